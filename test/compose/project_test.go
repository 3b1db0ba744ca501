package compose

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/composetest"
)

// project is one compose project of the test: its name, the environment docker-compose reads,
// and the published ports.
type project struct {
	name string
	env  []string
	gw   string // http://127.0.0.1:<gateway port>
	orch *api.Client
	http *http.Client
}

func newProject(t *testing.T) *project {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "rscomposetest" + hex.EncodeToString(b[:])
	gwPort, orchPort := composetest.FreePort(t), composetest.FreePort(t)
	return &project{
		name: name,
		env: []string{
			"COMPOSE_PROJECT_NAME=" + name,
			"RIDESHARE_GATEWAY_PORT=" + strconv.Itoa(gwPort),
			"RIDESHARE_ORCHESTRATOR_PORT=" + strconv.Itoa(orchPort),
			"RIDESHARE_IMAGE=" + deployment.Image,
			// Short, so that a burst of reads scales out within seconds.
			"RIDESHARE_SCALE_INTERVAL=5s",
			"RIDESHARE_SLAVES=1",
			// The file's defaults, whatever the environment says: the other tests read
			// RIDESHARE_PG_URL as the host's PostgreSQL, which no container reaches.
			"RIDESHARE_PG_URL=postgres://rideshare:rideshare@postgres:5432/postgres?sslmode=disable",
			"RIDESHARE_USERS_URL=http://gateway:8080",
			"RIDESHARE_ADMIN_TOKEN=",
			"RIDESHARE_DB_TOKEN=",
		},
		gw:   fmt.Sprintf("http://127.0.0.1:%d", gwPort),
		orch: api.NewClient(fmt.Sprintf("http://127.0.0.1:%d", orchPort), api.WithTimeout(15*time.Second)),
		http: &http.Client{Timeout: 20 * time.Second},
	}
}

// compose runs docker-compose on the repository's docker-compose.yml for this project.
func (p *project) compose(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"-p", p.name, "-f", filepath.Join(deployment.Root, "docker-compose.yml")}, args...)
	return deployment.Run(ctx, p.env, "docker-compose", full...)
}

// logs is the tail of every service's log, for a failure message.
func (p *project) logs() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := p.compose(ctx, "logs", "--no-color", "--tail=40")
	return out
}

// answer is one HTTP answer from the gateway.
type answer struct {
	status int
	body   string
}

// call sends a JSON request through the gateway (the load balancer's published port).
func (p *project) call(method, path string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.gw+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}, err
}

// want calls and fails t unless the status is the one wanted.
func (p *project) want(t *testing.T, status int, method, path string, body any) answer {
	t.Helper()
	a, err := p.call(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if a.status != status {
		t.Fatalf("%s %s: status %d (%s), want %d", method, path, a.status, a.body, status)
	}
	return a
}

// waitFor polls cond every half second until it holds, failing t after timeout with the
// last thing cond said and the services' logs.
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
		time.Sleep(500 * time.Millisecond)
	}
}

// container is what the engine says of a worker's container.
type container struct {
	running  bool
	pid      int
	stack    string
	networks []string
}

// inspectWorker inspects the container of worker id (rideshare-<id>, plugins/runtime/docker);
// found is false when there is none.
func inspectWorker(ctx context.Context, id string) (c container, found bool, err error) {
	out, err := deployment.Run(ctx, nil, "docker", "inspect", "--format",
		`{{.State.Running}} {{.State.Pid}} {{index .Config.Labels "rideshare.stack"}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}},{{end}}`,
		"rideshare-"+id)
	if err != nil {
		if strings.Contains(out, "No such") {
			return c, false, nil
		}
		return c, false, err
	}
	f := strings.Fields(out)
	if len(f) < 3 {
		return c, true, fmt.Errorf("docker inspect rideshare-%s: unexpected %q", id, out)
	}
	c.running = f[0] == "true"
	c.pid, _ = strconv.Atoi(f[1])
	c.stack = f[2]
	if len(f) > 3 {
		c.networks = strings.Split(strings.TrimSuffix(f[3], ","), ",")
	}
	return c, true, nil
}

// checkWorkers says what is wrong, if anything, with the containers of the workers ws: each
// must run, carry this project's stack label, sit on the project's network, and have as
// State.Pid the pid the orchestrator reports.
func (p *project) checkWorkers(ctx context.Context, ws []api.WorkerInfo) string {
	for _, w := range ws {
		c, found, err := inspectWorker(ctx, w.ID)
		switch {
		case err != nil:
			return err.Error()
		case !found:
			return fmt.Sprintf("worker %s has no container rideshare-%s", w.ID, w.ID)
		case !c.running:
			return fmt.Sprintf("container rideshare-%s is not running", w.ID)
		case c.pid != w.PID:
			return fmt.Sprintf("worker %s reports pid %d, its container's State.Pid is %d", w.ID, w.PID, c.pid)
		case c.stack != p.name:
			return fmt.Sprintf("container rideshare-%s has rideshare.stack=%q, want %q", w.ID, c.stack, p.name)
		case len(c.networks) != 1 || c.networks[0] != p.name+"_net":
			return fmt.Sprintf("container rideshare-%s is on networks %v, want [%s_net]", w.ID, c.networks, p.name)
		}
	}
	return ""
}

// ready is the workers if a master and at least slaves ready slaves serve, all in their
// containers as checkWorkers wants; otherwise why not.
func (p *project) ready(ctx context.Context, slaves int) ([]api.WorkerInfo, string) {
	ws, err := p.orch.Workers(ctx)
	if err != nil {
		return nil, err.Error()
	}
	masters, ready := 0, 0
	for _, w := range ws {
		switch {
		case w.Role == "master":
			masters++
		case w.Role == "slave" && w.Ready:
			ready++
		}
	}
	if masters != 1 || ready < slaves {
		return nil, fmt.Sprintf("%d masters, %d ready slaves (want 1 and %d): %+v", masters, ready, slaves, ws)
	}
	if bad := p.checkWorkers(ctx, ws); bad != "" {
		return nil, bad
	}
	return ws, ""
}

// ids is the set of the workers' ids.
func ids(ws []api.WorkerInfo) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w.ID] = true
	}
	return m
}

// leftovers lists whatever of this project the engine still holds, the workers seen included
// (by name).
func (p *project) leftovers(ctx context.Context, workerIDs map[string]bool) []string {
	var names []string
	for id := range workerIDs {
		names = append(names, "rideshare-"+id)
	}
	return composetest.Leftovers(ctx, p.name, names...)
}

// forceRemove takes away whatever of the project is left after a failed run, by its labels
// and names: the test leaves nothing on the engine either way.
func (p *project) forceRemove() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _ = p.compose(ctx, "down", "-v", "--timeout", "30")
	composetest.Remove(ctx, p.name)
}
