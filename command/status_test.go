package command

import (
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
)

func TestCatchUpText(t *testing.T) {
	for _, c := range []struct {
		p    *api.CatchUp
		want string
	}{
		{nil, "-"},
		{&api.CatchUp{Phase: "loading_snapshot", Unit: "bytes", Done: 4_200_000, Total: 10_000_000, Rate: 8_100_000, ETASeconds: 0.7},
			"loading snapshot 4.2/10.0 MB at 8.1 MB/s, ETA 1s"},
		{&api.CatchUp{Phase: "replaying", Unit: "seq", Done: 1200, Total: 5000, Rate: 3000, ETASeconds: 1.3},
			"replaying seq 1200/5000 at 3000/s, ETA 1s"},
		{&api.CatchUp{Phase: "replaying", Unit: "seq", Done: 10, Total: 0}, "replaying seq 10/0 at 0/s, ETA ?"},
	} {
		if got := catchUpText(c.p); got != c.want {
			t.Errorf("catchUpText(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}

func TestWriteStatus(t *testing.T) {
	now := time.Date(2026, 12, 4, 17, 10, 0, 0, time.UTC)
	st := api.Status{Epoch: 7, Master: "w-m", MasterSeq: 120,
		Workers: []api.WorkerInfo{
			{ID: "w-m", PID: 10, Role: "master", AppliedSeq: 120, Ready: true, StartedAt: now.Add(-time.Minute)},
			{ID: "w-s", PID: 11, Role: "slave", AppliedSeq: 100, Lag: 20, StartedAt: now.Add(-2 * time.Second),
				CatchingUp: &api.CatchUp{Phase: "replaying", Unit: "seq", Done: 100, Total: 120, Rate: 10, ETASeconds: 2}},
		},
		LastFailover: &api.Event{Time: now.Add(-3 * time.Minute), Kind: api.EventFailover, Worker: "w-m", PID: 10, Epoch: 7, DurationMS: 850.4},
	}
	var b strings.Builder
	if err := writeStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"master: w-m at epoch 7, applied seq 120",
		"last failover: 2026-12-04T17:07:00Z (3m0s ago): w-m (pid 10) took over at epoch 7 in 850 ms",
	}
	if len(lines) != 5 || lines[0] != want[0] || lines[1] != want[1] {
		t.Fatalf("status:\n%s\nwant first lines:\n%s", b.String(), strings.Join(want, "\n"))
	}
	if f := strings.Fields(lines[2]); f[0] != "ID" || f[5] != "LAG" {
		t.Fatalf("table header %q", lines[2])
	}
	if f := strings.Fields(lines[4]); f[0] != "w-s" || f[2] != "slave" || f[5] != "100" || f[6] != "20" || !strings.Contains(lines[4], "replaying seq 100/120") {
		t.Fatalf("slave row %q: want applied 100, lag 20, its catch-up", lines[4])
	}

	b.Reset()
	if err := writeStatus(&b, api.Status{}, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "master: none") || !strings.Contains(b.String(), "last failover: none since") {
		t.Fatalf("status with no master:\n%s", b.String())
	}

	b.Reset()
	st.Orchestrator = &api.OrchestratorRole{ID: "orch-b", Role: api.RoleStandby, Supervisor: "orch-a"}
	if err := writeStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\norchestrator: orch-b, standby (supervisor: orch-a)\n") {
		t.Fatalf("status of a standby orchestrator:\n%s", b.String())
	}
}
