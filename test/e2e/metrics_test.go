package e2e

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpmetrics"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// scrape is one GET /metrics, parsed.
type scrape map[string]*dto.MetricFamily

func (e *env) scrape(t *testing.T, base string) scrape {
	t.Helper()
	a := e.call(t, http.MethodGet, base+api.RouteMetrics, nil).want(t, http.StatusOK, "")
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s%s: Content-Type %q, want the Prometheus text format", base, api.RouteMetrics, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(a.body))
	if err != nil {
		t.Fatalf("GET %s%s: not the Prometheus text format: %v\n%s", base, api.RouteMetrics, err, a.body)
	}
	return fams
}

// value is the counter or gauge of the series of name whose labels include
// labels (ok=false: no such series).
func (s scrape) value(name string, labels map[string]string) (float64, bool) {
	f, ok := s[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// must is value, failing the test when the series is missing.
func (s scrape) must(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := s.value(name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func requests(route, method, code string) map[string]string {
	return map[string]string{"route": route, "method": method, "code": code}
}

// Every server serves GET /metrics: a write through the gateway counts in
// the gateway's, the users service's and the orchestrator's request
// counters under their route patterns; the orchestrator's workers gauge
// counts the master and the slaves; a crashed master is a failover on the
// timeline (with its duration), in the failover metrics and in the status's
// new epoch.
func TestMetricsEventsAndStatus(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 2})
	e := newEnv(t, s.URL)
	e.reset(t)
	s.WaitShape(2, 60*time.Second)

	servers := map[string]string{"orchestrator": s.URL, "users": e.usersURL, "rides": e.ridesURL, "gateway": e.gateway}
	before := map[string]scrape{}
	for name, base := range servers {
		before[name] = e.scrape(t, base)
		for _, fam := range []string{"go_goroutines", "process_cpu_seconds_total"} {
			if _, ok := before[name][fam]; !ok {
				t.Errorf("%s: no %s in /metrics", name, fam)
			}
		}
	}
	// The scrape is not an API request: _count does not see it.
	e.call(t, "GET", e.usersURL+"/api/v1/_count", nil).want(t, 200, `[0]`)

	e.addUser(t, "metrics-alice")
	e.addRide(t, "metrics-alice", future, 1, 2)
	after := map[string]scrape{}
	for name, base := range servers {
		after[name] = e.scrape(t, base)
	}
	for _, c := range []struct {
		server string
		labels map[string]string
	}{
		{"gateway", requests("/api/v1/users", "PUT", "201")},
		{"gateway", requests("/", "POST", "201")}, // the rule's prefix, not the path
		{"users", requests(api.RouteUsers, "PUT", "201")},
		{"users", requests(api.RouteUsers, "GET", "200")}, // rides checks the user exists
		{"rides", requests(api.RouteRides, "POST", "201")},
		{"orchestrator", requests(api.RouteDBWrite, "POST", "200")},
		{"orchestrator", requests(api.RouteDBRead, "POST", "200")},
	} {
		was, _ := before[c.server].value(httpmetrics.RequestsName, c.labels)
		now := after[c.server].must(t, httpmetrics.RequestsName, c.labels)
		if now <= was {
			t.Errorf("%s: %s%v = %v, was %v: the requests were not counted", c.server, httpmetrics.RequestsName, c.labels, now, was)
		}
		lat := map[string]string{"route": c.labels["route"], "method": c.labels["method"]}
		if n := after[c.server].must(t, httpmetrics.DurationName, lat); n < now {
			t.Errorf("%s: %d latencies observed for %v, fewer than the %v requests", c.server, int(n), lat, now)
		}
	}
	for name, sc := range after {
		for _, m := range sc[httpmetrics.RequestsName].GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "route" && strings.Contains(lp.GetValue(), "metrics-alice") {
					t.Errorf("%s: a raw path is a route label: %q", name, lp.GetValue())
				}
			}
		}
	}

	o := after["orchestrator"]
	if v := o.must(t, "rideshare_workers", map[string]string{"role": "master", "state": "ready"}); v != 1 {
		t.Errorf("ready masters = %v, want 1", v)
	}
	if v := o.must(t, "rideshare_workers", map[string]string{"role": "slave", "state": "ready"}); v != 2 {
		t.Errorf("ready slaves = %v, want 2", v)
	}
	if n := len(o["rideshare_worker_replication_lag"].GetMetric()); n != 3 {
		t.Errorf("%d lag series, want one per worker (3)", n)
	}
	for _, name := range []string{"rideshare_rpc_timeouts_total", "rideshare_scaler_decisions_total", "rideshare_scaler_last_reads",
		"rideshare_plugin_restarts_total", "rideshare_last_failover_duration_seconds", "rideshare_desired_slaves"} {
		if _, ok := o[name]; !ok {
			t.Errorf("orchestrator: no %s", name)
		}
	}
	failovers := o.must(t, "rideshare_failovers_total", nil)

	cl := s.API()
	ctx := context.Background()
	// The master's seq reaches its election record within ReportEvery (1 s).
	var st api.Status
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err = cl.Status(ctx)
		if err == nil && st.MasterSeq > 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || st.Master == "" || st.Epoch == 0 || len(st.Workers) != 3 || st.MasterSeq == 0 {
		t.Fatalf("status = %+v (%v), want a master with an epoch and a seq, 3 workers", st, err)
	}
	if o.must(t, "rideshare_master_epoch", nil) != float64(st.Epoch) {
		t.Errorf("epoch gauge %v, status epoch %d", o.must(t, "rideshare_master_epoch", nil), st.Epoch)
	}

	// Crash the master: a failover.
	if _, err := cl.CrashMaster(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var next api.Status
	for {
		next, err = cl.Status(ctx)
		if err == nil && next.Master != "" && next.Master != st.Master && next.LastFailover != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new master with a failover in the status 60 s after the crash: %+v (%v)", next, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if next.Epoch <= st.Epoch || next.LastFailover.Worker != next.Master || next.LastFailover.Epoch != next.Epoch || next.LastFailover.DurationMS <= 0 {
		t.Fatalf("status after the crash = %+v, last failover %+v: want a newer epoch than %d, the new master's failover, a duration", next, next.LastFailover, st.Epoch)
	}
	t.Logf("failover: %+v", *next.LastFailover)
	s.WaitShape(2, 60*time.Second)
	evs, err := cl.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i, ev := range evs {
		kinds[ev.Kind]++
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Errorf("events not oldest first: %+v before %+v", evs[i-1], ev)
		}
		if ev.Kind == api.EventFailover && (ev.Worker != next.Master || ev.DurationMS <= 0) {
			t.Errorf("failover event %+v: want %s with a duration", ev, next.Master)
		}
	}
	if kinds[api.EventCrash] != 1 || kinds[api.EventFailover] != 1 || kinds[api.EventReplaced] != 1 {
		t.Errorf("events %+v: want one crash, one failover, one replacement", evs)
	}
	o = e.scrape(t, s.URL)
	if v := o.must(t, "rideshare_failovers_total", nil); v != failovers+1 {
		t.Errorf("failovers_total = %v after a crash, was %v", v, failovers)
	}
	if v := o.must(t, "rideshare_last_failover_duration_seconds", nil); v <= 0 || math.Abs(v*1e3-next.LastFailover.DurationMS) > 1e-6 {
		t.Errorf("last failover duration = %v s, want the status's %v ms", v, next.LastFailover.DurationMS)
	}
}
