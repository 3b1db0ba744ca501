package orchestrator_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/stacktest"
)

func TestSwitchoverUnderLoad(t *testing.T) { forEachBackend(t, testSwitchoverUnderLoad) }

// A switchover under 4 writers: the lead moves to the lowest-pid ready
// slave, then back to the old master by name; no process is killed, no
// write fails, every acknowledged write is there once, on every replica.
func testSwitchoverUnderLoad(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	before := workerPIDs(s)
	first := master(t, s)
	lowest := slaves(s)[0]
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "sw", 4)
	time.Sleep(time.Second)

	var res api.SwitchoverResult
	if code, body := s.DoRaw("POST", api.RouteSwitchover, nil, &res); code != 200 {
		t.Fatalf("switchover: %d %s", code, body)
	}
	if res.From != first.ID || res.To != lowest.ID || res.Epoch <= 0 {
		t.Fatalf("switchover = %+v, want from %s to %s (the lowest-pid ready slave)", res, first.ID, lowest.ID)
	}
	t.Logf("switchover %s → %s: epoch %d, writes waited %.1f ms", res.From, res.To, res.Epoch, res.TookMS)
	if m := master(t, s); m.ID != lowest.ID {
		t.Fatalf("master after the switchover is %s, want %s", m.ID, lowest.ID)
	}

	// Back to the old master, by name, once it serves again as a slave.
	waitReadySlave(t, s, first.ID, 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	var back api.SwitchoverResult
	if code, body := s.DoRaw("POST", api.RouteSwitchover, api.SwitchoverRequest{To: first.ID}, &back); code != 200 {
		t.Fatalf("switchover back to %s: %d %s", first.ID, code, body)
	}
	if back.From != lowest.ID || back.To != first.ID || back.Epoch <= res.Epoch {
		t.Fatalf("switchover back = %+v, want from %s to %s above epoch %d", back, lowest.ID, first.ID, res.Epoch)
	}
	t.Logf("switchover %s → %s: epoch %d, writes waited %.1f ms", back.From, back.To, back.Epoch, back.TookMS)
	time.Sleep(time.Second)

	ok, failed := stop()
	t.Logf("writers: %d acknowledged, %d failed", ok, failed)
	if failed != 0 {
		t.Fatalf("%d writes failed during the switchovers", failed)
	}
	if ok == 0 {
		t.Fatal("no write was acknowledged")
	}
	requireSameWorkers(t, s, before)
	if len(s.Workers()) != len(before) {
		t.Fatalf("workers %+v, want the same %d as before", s.Workers(), len(before))
	}
	// The timeline shows two planned switchovers, and no failover.
	var events []api.Event
	if code := s.Do("GET", api.RouteEvents, nil, &events); code != 200 {
		t.Fatalf("GET %s: %d", api.RouteEvents, code)
	}
	kinds := map[string]int{}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if kinds[api.EventSwitchover] != 2 || kinds[api.EventFailover] != 0 {
		t.Fatalf("events %+v: want 2 switchovers and no failover", events)
	}
	s.WaitShape(2, 60*time.Second)
	s.WaitConverged(60 * time.Second)
	l.Check(t, s)
}

// waitReadySlave waits until worker id is a ready slave.
func waitReadySlave(t *testing.T, s *stacktest.Stack, id string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, w := range s.Workers() {
			if w.ID == id && w.Role == "slave" && w.Ready {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s is not a ready slave after %s: %+v", id, within, s.Workers())
}

// A switchover the orchestrator cannot do is refused with a clear error and
// changes nothing: no new master, no write lost.
func TestSwitchoverRefusals(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	l := stacktest.NewLedger()
	for i := 0; i < 10; i++ {
		l.Insert(s, fmt.Sprintf("before-%d", i))
	}
	m := master(t, s)
	cases := []struct {
		name, method string
		body         any
		code         int
		says         string
	}{
		{"unknown worker", "POST", api.SwitchoverRequest{To: "w-nope"}, 404, "no worker"},
		{"the master itself", "POST", api.SwitchoverRequest{To: m.ID}, 409, "master already"},
		{"unknown field", "POST", map[string]any{"target": "x"}, 400, "target"},
		{"not an object", "POST", []int{1}, 400, ""},
		{"wrong method", "GET", nil, 405, ""},
	}
	for _, c := range cases {
		code, body := s.DoRaw(c.method, api.RouteSwitchover, c.body, nil)
		if code != c.code || !strings.Contains(string(body), c.says) || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: %d %s, want %d with a JSON error saying %q", c.name, code, body, c.code, c.says)
		}
	}
	if now := master(t, s); now.ID != m.ID {
		t.Fatalf("master changed from %s to %s after refused switchovers", m.ID, now.ID)
	}
	l.Check(t, s)
}
