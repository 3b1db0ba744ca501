package orchestrator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// fakeElection is the supervisor's view for the handler tests: members and
// a leader, nothing else (a nil embedded interface panics on any other call).
type fakeElection struct {
	election.Election
	members []election.Member
	leader  *election.Leader
}

func (f *fakeElection) Members(context.Context) ([]election.Member, error) { return f.members, nil }

// Supervisor: another orchestrator supervises (this one never campaigns
// here: Run is not called).
func (f *fakeElection) Supervisor(context.Context) (string, bool, error) { return "orch-x", true, nil }
func (f *fakeElection) Leader(context.Context) (election.Leader, bool, error) {
	if f.leader == nil {
		return election.Leader{}, false, nil
	}
	return *f.leader, true, nil
}

type nullRuntime struct{ runtime.Runtime }

// viewStack is an orchestrator whose supervisor tracks a master m (seq 120),
// a ready slave s1 (seq 100) and a slave s2 catching up (seq 40).
func viewStack(t *testing.T) (*Orchestrator, *fakeElection, http.Handler) {
	t.Helper()
	o, err := New(Options{Runtime: nullRuntime{}, NewWorker: func(string) runtime.Spec { return runtime.Spec{} },
		OpenElection: func(context.Context) (election.Election, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Minute)
	el := &fakeElection{
		members: []election.Member{
			{ID: "m", PID: 10, Role: election.RoleMaster, AppliedSeq: 120, Ready: true},
			{ID: "s1", PID: 11, Role: election.RoleSlave, AppliedSeq: 100, Ready: true},
			{ID: "s2", PID: 12, Role: election.RoleSlave, AppliedSeq: 40,
				Progress: &election.Progress{Phase: election.PhaseReplaying, Unit: "seq", Done: 40, Total: 120, Rate: 20}},
		},
		leader: &election.Leader{ID: "m", PID: 10, Epoch: 4},
	}
	o.sup.el = el
	for _, m := range el.members {
		o.sup.workers[m.ID] = &supervised{Handle: runtime.Handle{ID: m.ID, PID: m.PID, StartedAt: started}, registered: true}
	}
	return o, el, o.Handler()
}

func get(t *testing.T, h http.Handler, path string, into any) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("GET %s: %d %s: %v", path, rec.Code, rec.Body, err)
		}
	}
	return rec
}

func TestStatusShowsEpochLagAndLastFailover(t *testing.T) {
	o, el, h := viewStack(t)
	var st api.Status
	if rec := get(t, h, api.RouteStatus, &st); rec.Code != 200 {
		t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	if st.Epoch != 4 || st.Master != "m" || st.MasterSeq != 120 || len(st.Workers) != 3 || st.LastFailover != nil {
		t.Fatalf("status = %+v, want epoch 4, master m at 120, 3 workers, no failover", st)
	}
	if r := st.Orchestrator; r == nil || *r != (api.OrchestratorRole{ID: DefaultID, Role: api.RoleStandby, Supervisor: "orch-x"}) {
		t.Fatalf("status orchestrator = %+v, want %s standing by, orch-x supervising", r, DefaultID)
	}
	for i, want := range []uint64{0, 20, 80} {
		if st.Workers[i].Lag != want {
			t.Errorf("%s: lag %d, want %d", st.Workers[i].ID, st.Workers[i].Lag, want)
		}
	}
	if p := st.Workers[2].CatchingUp; p == nil || p.Done != 40 || p.Total != 120 {
		t.Errorf("s2's catch-up = %+v, want 40/120", p)
	}
	var ws []api.WorkerInfo
	get(t, h, api.RouteWorkers, &ws)
	if len(ws) != 3 || ws[1].Lag != 20 {
		t.Fatalf("workers = %+v, want s1's lag 20", ws)
	}

	// m dies, s1 wins: a failover, on the timeline and in the status.
	o.sup.lead.seen(*el.leader, true, present("m", "s1", "s2"), time.Now())
	o.sup.lead.exited("m", 10, false, time.Now().Add(-250*time.Millisecond))
	el.members, el.leader = el.members[1:], &election.Leader{ID: "s1", PID: 11, Epoch: 5}
	el.members[0].Role = election.RoleMaster
	delete(o.sup.workers, "m")
	if ev, ok := o.sup.lead.seen(*el.leader, true, present("s1", "s2"), time.Now()); ok {
		o.sup.emit(ev)
	}
	get(t, h, api.RouteStatus, &st)
	if st.Epoch != 5 || st.Master != "s1" || st.LastFailover == nil || st.LastFailover.Worker != "s1" || st.LastFailover.DurationMS < 250 {
		t.Fatalf("status after failover = %+v (last failover %+v)", st, st.LastFailover)
	}
	if st.Workers[1].Lag != 60 {
		t.Fatalf("s2's lag behind the new master = %d, want 60", st.Workers[1].Lag)
	}
}

func TestEventsAreOldestFirst(t *testing.T) {
	o, _, h := viewStack(t)
	var evs []api.Event
	if get(t, h, api.RouteEvents, &evs); len(evs) != 0 {
		t.Fatalf("events at start = %+v", evs)
	}
	o.events.add(api.Event{Kind: api.EventCrash, Worker: "s2"})
	o.scaled(45, 3)
	o.scaled(45, 3) // same: counted, not on the timeline
	get(t, h, api.RouteEvents, &evs)
	if len(evs) != 2 || evs[0].Kind != api.EventCrash || evs[1].Kind != api.EventScale || evs[1].Reads != 45 || evs[1].Slaves != 3 {
		t.Fatalf("events = %+v, want the crash, then scale to 3 on 45 reads", evs)
	}
	if o.sup.Desired() != 3 {
		t.Fatalf("desired = %d after the scaler decided 3", o.sup.Desired())
	}
	if rec := get(t, h, api.RouteEvents+"x", nil); rec.Code != 404 {
		t.Fatalf("unknown route: %d", rec.Code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, api.RouteEvents, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST events: %d, want 405", rec.Code)
	}
}

// GET /metrics shows the workers by role and state, each worker's lag and
// catch-up, the scaler's decisions and the requests by route pattern.
func TestOrchestratorMetrics(t *testing.T) {
	o, _, h := viewStack(t)
	o.scaled(45, 3)
	o.scaled(0, 1)
	o.scaled(0, 1)
	o.metrics.rpcTimeout("readQ")
	get(t, h, api.RouteStatus, nil)
	get(t, h, api.RouteStatus, nil)

	rec := get(t, h, api.RouteMetrics, nil)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no %s in /metrics", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s%v in /metrics", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rideshare_workers", map[string]string{"role": "master", "state": "ready"}, 1},
		{"rideshare_workers", map[string]string{"role": "slave", "state": "ready"}, 1},
		{"rideshare_workers", map[string]string{"role": "slave", "state": "catching_up"}, 1},
		{"rideshare_workers", map[string]string{"role": "slave", "state": "draining"}, 0},
		{"rideshare_master_epoch", nil, 4},
		{"rideshare_worker_replication_lag", map[string]string{"worker": "s1"}, 20},
		{"rideshare_worker_replication_lag", map[string]string{"worker": "m"}, 0},
		{"rideshare_worker_catchup_done", map[string]string{"worker": "s2"}, 40},
		{"rideshare_worker_catchup_target", map[string]string{"worker": "s2"}, 120},
		{"rideshare_scaler_last_reads", nil, 0},
		{"rideshare_scaler_decisions_total", map[string]string{"direction": "up"}, 1},
		{"rideshare_scaler_decisions_total", map[string]string{"direction": "down"}, 1},
		{"rideshare_scaler_decisions_total", map[string]string{"direction": "same"}, 1},
		{"rideshare_desired_slaves", nil, 1},
		{"rideshare_events_total", map[string]string{"kind": "scale"}, 2},
		{"rideshare_failovers_total", nil, 0},
		{"rideshare_orchestrator_supervising", nil, 0},
		{"rideshare_events_total", map[string]string{"kind": "supervision"}, 0},
		{"rideshare_last_failover_duration_seconds", nil, 0},
		{"rideshare_rpc_timeouts_total", map[string]string{"queue": "readQ"}, 1},
		{"rideshare_rpc_timeouts_total", map[string]string{"queue": "writeQ"}, 0},
		{"rideshare_workers_view_up", nil, 1},
		{"rideshare_http_requests_total", map[string]string{"route": api.RouteStatus, "method": "GET", "code": "200"}, 2},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value("rideshare_plugin_restarts_total", map[string]string{"kind": "runtime"}); got != 0 {
		t.Errorf("runtime plugin restarts = %v before any", got)
	}
	o.opts.PluginRestarts.Add("election", "zookeeper")
	rec = get(t, h, api.RouteMetrics, nil)
	if !strings.Contains(rec.Body.String(), `rideshare_plugin_restarts_total{kind="election"} 1`) {
		t.Errorf("no plugin restart counted:\n%s", rec.Body)
	}
}
