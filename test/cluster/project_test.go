package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/composetest"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// project is one compose project of the test: its name, the environment docker-compose reads,
// and the published ports.
type project struct {
	name  string
	env   []string
	gw    string            // http://127.0.0.1:<gateway port>
	orchs map[string]string // orchestrator service -> its published base URL
	http  *http.Client
}

// orchestrators are the two orchestrator services, in a fixed order.
var orchestrators = []string{"orchestrator1", "orchestrator2"}

func newProject(t *testing.T) *project {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "rsclustertest" + hex.EncodeToString(b[:])
	gw, o1, o2 := composetest.FreePort(t), composetest.FreePort(t), composetest.FreePort(t)
	return &project{
		name: name,
		env: []string{
			"COMPOSE_PROJECT_NAME=" + name,
			"RIDESHARE_GATEWAY_PORT=" + strconv.Itoa(gw),
			"RIDESHARE_ORCHESTRATOR1_PORT=" + strconv.Itoa(o1),
			"RIDESHARE_ORCHESTRATOR2_PORT=" + strconv.Itoa(o2),
			"RIDESHARE_IMAGE=" + deployment.Image,
			"RIDESHARE_SCALE_INTERVAL=1h", // no scaling: the shape stays 1 master + 1 slave
			"RIDESHARE_SLAVES=1",
			// The file's defaults, whatever the environment says (the other tests read
			// RIDESHARE_PG_URL as the host's PostgreSQL, which no container reaches).
			"RIDESHARE_PG_URL=postgres://rideshare:rideshare@postgres:5432/postgres?sslmode=disable",
			"RIDESHARE_USERS_URL=http://gateway:8080",
			"RIDESHARE_ADMIN_TOKEN=",
			"RIDESHARE_DB_TOKEN=",
		},
		gw: fmt.Sprintf("http://127.0.0.1:%d", gw),
		orchs: map[string]string{
			"orchestrator1": fmt.Sprintf("http://127.0.0.1:%d", o1),
			"orchestrator2": fmt.Sprintf("http://127.0.0.1:%d", o2),
		},
		http: &http.Client{Timeout: 20 * time.Second},
	}
}

// compose runs docker-compose on the repository's docker-compose.cluster.yml for this project.
func (p *project) compose(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-p", p.name, "-f", filepath.Join(deployment.Root, "docker-compose.cluster.yml")}, args...)
	return deployment.Run(ctx, p.env, "docker-compose", full...)
}

// logs is the tail of the services' logs (all, or those named), for a failure message.
func (p *project) logs(services ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := p.compose(ctx, append([]string{"logs", "--no-color", "--tail=60"}, services...)...)
	return out
}

// wholeLog is one service's whole log (capped at 5,000 lines).
func (p *project) wholeLog(service string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := p.compose(ctx, "logs", "--no-color", "--tail=5000", service)
	return out
}

// logsBetween is what the orchestrators, the broker nodes and the workers logged from..to at level WARN or above,
// or about connections, a few dozen lines each: where a stall's cause shows.
func (p *project) logsBetween(from, to time.Time) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := map[string]string{} // container → what it runs
	for _, o := range append(slices.Clone(orchestrators), "rabbitmq1", "rabbitmq2", "rabbitmq3") {
		if id, err := p.container(ctx, o); err == nil {
			ids[id] = o
		}
	}
	out, _ := deployment.Run(ctx, nil, "docker", "ps", "--filter", "label=rideshare.stack="+p.name, "--format", "{{.ID}} {{.Names}}")
	for _, l := range composetest.Lines(out) {
		if f := strings.Fields(l); len(f) == 2 {
			ids[f[0]] = f[1]
		}
	}
	var b strings.Builder
	for id, name := range ids {
		text, _ := deployment.Run(ctx, nil, "docker", "logs", "--since", from.Format(time.RFC3339Nano), "--until", to.Format(time.RFC3339Nano), id)
		// The stream coordinator's lines tell when syncQ had a writer again; the body lines of
		// Erlang's crash reports (indented after the pid) would fill the budget.
		lines := strings.Split(grepLines(text, "[WARN]", "[ERROR]", "[warning]", "[error]", "connect", "leader", "channel", "stream_coordinator"), "\n")
		lines = slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, ">   ") })
		if len(lines) > 40 {
			lines = append(lines[:40], fmt.Sprintf("(+%d more lines)", len(lines)-40))
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// container is the id of a service's container.
func (p *project) container(ctx context.Context, service string) (string, error) {
	out, err := p.compose(ctx, "ps", "-q", service)
	if err != nil {
		return "", err
	}
	ids := composetest.Lines(out)
	if len(ids) != 1 {
		return "", fmt.Errorf("service %s: containers %v, want one", service, ids)
	}
	return ids[0], nil
}

// exec runs a command in a service's container.
func (p *project) exec(ctx context.Context, service string, cmd ...string) (string, error) {
	id, err := p.container(ctx, service)
	if err != nil {
		return "", err
	}
	return deployment.Run(ctx, nil, "docker", append([]string{"exec", id}, cmd...)...)
}

// running is whether a service's container runs (and, with a health check, is healthy).
func (p *project) running(ctx context.Context, service string) bool {
	id, err := p.container(ctx, service)
	if err != nil {
		return false
	}
	out, err := deployment.Run(ctx, nil, "docker", "inspect", "--format",
		"{{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}", id)
	return err == nil && strings.TrimSpace(out) == "true healthy"
}

// waitFor polls cond every 200 ms until it holds, failing t after timeout with the last thing
// cond said and the services' logs.
func (p *project) waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s still waiting for %s: %s\n--- logs ---\n%s", timeout, what, detail, p.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// client is an API client of one orchestrator: one attempt, so the test sees every failure.
func (p *project) client(orch string) *api.Client {
	return api.NewClient(p.orchs[orch], api.WithHTTPClient(p.http), api.WithAttempts(1),
		api.WithTimeout(15*time.Second), api.WithReadYourWrites(false))
}

// stack is a stacktest.Stack attached to one orchestrator, for reading the data back.
func (p *project) stack(t *testing.T, orch string) *stacktest.Stack {
	return stacktest.Attach(t, p.orchs[orch], &config.Config{}, "")
}

// both is the DB API of the two orchestrators as a client behind a load balancer sees it: the
// calls alternate between them, and one whose turn it is but whose port takes no connection
// (killed) is skipped, as a balancer skips a target that fails its check. A call is sent once:
// one that got no answer may still have been applied, and a second copy of it could be
// acknowledged beside it.
type both struct {
	p    *project
	next atomic.Uint64
}

func (b *both) do(call func(*stacktest.Stack) int) int {
	i := b.next.Add(1)
	url := b.p.orchs[orchestrators[i%2]]
	if !accepts(url) {
		url = b.p.orchs[orchestrators[(i+1)%2]]
	}
	return call(&stacktest.Stack{URL: url, Config: &config.Config{}})
}

// accepts is whether the host:port of a base URL takes a TCP connection.
func accepts(url string) bool {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (b *both) Write(req dbapi.WriteRequest) (res dbapi.WriteResult, code int) {
	code = b.do(func(s *stacktest.Stack) int { res, code = s.Write(req); return code })
	return res, code
}

func (b *both) Read(req dbapi.ReadRequest) (res dbapi.ReadResult, code int) {
	code = b.do(func(s *stacktest.Stack) int { res, code = s.Read(req); return code })
	return res, code
}
