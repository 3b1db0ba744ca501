package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/rides"
)

// Generous deadlines: two cores, shared with other tests.
const (
	upTimeout       = 5 * time.Minute // docker-compose up -d, then the API answers
	recoverTimeout  = 3 * time.Minute // a crashed worker replaced, a failover done
	scaleTimeout    = 3 * time.Minute
	composeDeadline = 5 * time.Minute // one docker-compose command
)

var password = strings.Repeat("5a", 20) // 40 hex digits, as the users API wants

// TestCompose runs the deployment of docker-compose.yml end to end; see the package comment.
func TestCompose(t *testing.T) {
	deployment.Require(t)
	p := newProject(t)
	t.Logf("compose project %s: gateway %s", p.name, p.gw)
	downed := false
	t.Cleanup(func() {
		if !downed || t.Failed() {
			p.forceRemove()
		}
	})
	ctx := context.Background()
	seen := map[string]bool{} // every worker id the orchestrator reported

	// Up, and the RideShare API through the load balancer's published port.
	p.up(t)
	ws := p.waitReady(t, 1, upTimeout)
	for id := range ids(ws) {
		seen[id] = true
	}
	p.want(t, 201, "PUT", "/api/v1/users", map[string]string{"username": "alice", "password": password})
	p.want(t, 201, "PUT", "/api/v1/users", map[string]string{"username": "bob", "password": password})
	when := time.Now().Add(365 * 24 * time.Hour).Format(rides.TimestampLayout)
	a := p.want(t, 201, "POST", "/api/v1/rides", map[string]any{
		"created_by": "alice", "timestamp": when, "source": 3, "destination": 7})
	var created struct{ RideID int64 }
	if err := json.Unmarshal([]byte(a.body), &created); err != nil || created.RideID <= 0 {
		t.Fatalf("create ride: %q: no positive rideId (%v)", a.body, err)
	}
	ride := fmt.Sprintf("/api/v1/rides/%d", created.RideID)
	p.want(t, 200, "POST", ride, map[string]string{"username": "bob"})
	p.wantRiders(t, ride, "bob")

	// Crash the master through the orchestrator's published port: a slave takes over and a
	// new container replaces the crashed one.
	for _, crash := range []struct {
		role string
		kill func(context.Context) ([]string, error)
	}{
		{"master", p.orch.CrashMaster},
		{"slave", p.orch.CrashSlave},
	} {
		pids, err := crash.kill(ctx)
		if err != nil {
			t.Fatalf("crash %s: %v", crash.role, err)
		}
		victim, ok := byPID(ws, crash.role, pids)
		if !ok {
			t.Fatalf("crash %s answered %v, not the pid of a %s among %v", crash.role, pids, crash.role, workerIDs(ws))
		}
		p.waitFor(t, recoverTimeout, "a replacement for the crashed "+crash.role, func() (bool, string) {
			now, why := p.ready(ctx, 1)
			if now == nil {
				return false, why
			}
			if ids(now)[victim.ID] {
				return false, "the crashed " + crash.role + " " + victim.ID + " is still listed"
			}
			fresh := 0
			for _, w := range now {
				if !seen[w.ID] {
					fresh++
				}
			}
			if fresh == 0 {
				return false, fmt.Sprintf("no new worker yet: %+v", now)
			}
			if _, found, err := inspectWorker(ctx, victim.ID); err != nil || found {
				return false, fmt.Sprintf("the crashed %s's container rideshare-%s is still there (%v)", crash.role, victim.ID, err)
			}
			ws = now
			return true, ""
		})
		for id := range ids(ws) {
			seen[id] = true
		}
		t.Logf("crash %s %s (pid %d): replaced; workers now %v", crash.role, victim.ID, victim.PID, workerIDs(ws))
	}
	// Writes go on after the failover, and the data is all there.
	p.addUser(t, "carol")
	p.want(t, 200, "POST", ride, map[string]string{"username": "carol"})
	p.wantRiders(t, ride, "bob", "carol")

	// Scale out: reads arriving faster than reads_per_slave per scaling interval raise the slaves;
	// each new one is a container on the project's network.
	stop := p.readLoad(ride)
	p.waitFor(t, scaleTimeout, "a scale-out to 3 ready slaves", func() (bool, string) {
		now, why := p.ready(ctx, 3)
		if now != nil {
			ws = now
		}
		return now != nil, why
	})
	stop()
	for id := range ids(ws) {
		seen[id] = true
	}
	t.Logf("scaled out: workers %v", workerIDs(ws))

	// docker-compose down keeps the volumes: the data comes back with up. The workers, which
	// are no compose service, go with the orchestrator.
	p.down(t, false)
	left := p.leftovers(ctx, seen)
	if others := slices.DeleteFunc(slices.Clone(left), isVolume); len(others) > 0 {
		t.Fatalf("after docker-compose down, left behind (only the volumes should be): %v", others)
	}
	if vs := volumes(left); len(vs) != 4 {
		t.Fatalf("after docker-compose down, volumes %v, want the 4 named volumes kept", vs)
	}
	p.up(t)
	ws = p.waitReady(t, 1, upTimeout)
	for id := range ids(ws) {
		seen[id] = true
	}
	p.wantRiders(t, ride, "bob", "carol")

	// docker-compose down -v leaves nothing: no container, network, volume or worker.
	p.down(t, true)
	downed = true
	if left := p.leftovers(ctx, seen); len(left) > 0 {
		t.Fatalf("after docker-compose down -v, left behind: %v", left)
	}
}

// up runs docker-compose up -d.
func (p *project) up(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), composeDeadline)
	defer cancel()
	t0 := time.Now()
	if _, err := p.compose(ctx, "up", "-d"); err != nil {
		t.Fatalf("%v\n--- logs ---\n%s", err, p.logs())
	}
	t.Logf("docker-compose up -d: %s", time.Since(t0).Round(time.Second))
}

// down runs docker-compose down (with -v: the volumes too).
func (p *project) down(t *testing.T, volumes bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), composeDeadline)
	defer cancel()
	args := []string{"down", "--timeout", "30"}
	if volumes {
		args = append(args, "-v")
	}
	t0 := time.Now()
	if _, err := p.compose(ctx, args...); err != nil {
		t.Fatal(err)
	}
	t.Logf("docker-compose %s: %s", strings.Join(args, " "), time.Since(t0).Round(time.Second))
}

// waitReady waits until the gateway answers and the workers serve, and returns them.
func (p *project) waitReady(t *testing.T, slaves int, timeout time.Duration) []api.WorkerInfo {
	t.Helper()
	t0 := time.Now()
	var ws []api.WorkerInfo
	p.waitFor(t, timeout, "the deployment to serve", func() (bool, string) {
		a, err := p.call("GET", "/api/v1/users", nil)
		if err != nil {
			return false, err.Error()
		}
		if a.status != 200 && a.status != 204 {
			return false, fmt.Sprintf("GET /api/v1/users through the gateway: %d %s", a.status, a.body)
		}
		now, why := p.ready(context.Background(), slaves)
		ws = now
		return now != nil, why
	})
	t.Logf("serving %s after up: workers %v", time.Since(t0).Round(time.Second), workerIDs(ws))
	return ws
}

// addUser creates a user, retrying while a failover may still refuse or time out writes; a
// write that timed out may have been applied, so "already exists" after such a try is success.
func (p *project) addUser(t *testing.T, name string) {
	t.Helper()
	tried := false
	p.waitFor(t, recoverTimeout, "user "+name+" created", func() (bool, string) {
		a, err := p.call("PUT", "/api/v1/users", map[string]string{"username": name, "password": password})
		switch {
		case err != nil:
			tried = true
			return false, err.Error()
		case a.status == 201:
			return true, ""
		case a.status == 400 && tried && strings.Contains(a.body, "exists"):
			return true, ""
		case a.status >= 500:
			tried = true
		}
		return false, fmt.Sprintf("%d %s", a.status, a.body)
	})
}

// wantRiders waits until the ride's users are exactly want (a replica may lag a moment).
func (p *project) wantRiders(t *testing.T, ride string, want ...string) {
	t.Helper()
	p.waitFor(t, recoverTimeout, fmt.Sprintf("%s to list users %v", ride, want), func() (bool, string) {
		a, err := p.call("GET", ride, nil)
		if err != nil {
			return false, err.Error()
		}
		var d struct{ Users []string }
		if a.status != 200 || json.Unmarshal([]byte(a.body), &d) != nil {
			return false, fmt.Sprintf("%d %s", a.status, a.body)
		}
		slices.Sort(d.Users)
		return slices.Equal(d.Users, want), a.body
	})
}

// readLoad reads the ride through the gateway, one read after another, until the returned
// stop is called.
func (p *project) readLoad(ride string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			_, _ = p.call("GET", ride, nil)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return func() { close(done); wg.Wait() }
}

// byPID is the worker of that role whose pid is the one in pids, the crash route's answer.
func byPID(ws []api.WorkerInfo, role string, pids []string) (api.WorkerInfo, bool) {
	for _, w := range ws {
		if w.Role == role && slices.Equal(pids, []string{strconv.Itoa(w.PID)}) {
			return w, true
		}
	}
	return api.WorkerInfo{}, false
}

func workerIDs(ws []api.WorkerInfo) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s(%s,pid %d)", w.ID, w.Role, w.PID))
	}
	return out
}

// isVolume reports whether a leftover is a volume.
func isVolume(left string) bool { return strings.HasPrefix(left, "volume ls: ") }

// volumes is the distinct volume names among the leftovers.
func volumes(left []string) []string {
	var vs []string
	for _, l := range left {
		if v, ok := strings.CutPrefix(l, "volume ls: "); ok && !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	return vs
}
