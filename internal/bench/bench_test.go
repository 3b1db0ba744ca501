package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/bench"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// Run the benchmarks with
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/bench/...
//	go test -run '^$' -bench Failover -benchtime 10x ./internal/bench/...
//
// Each starts its own stack (1 master + 2 slaves) on the local RabbitMQ and
// ZooKeeper.

// levels are the concurrency levels of the data-path benchmarks.
var levels = []int{1, 8, 32, 128}

// BenchmarkDataPath measures, on one stack and one broker, the floor (a bare
// AMQP echo RPC), the floor with a publisher confirm, the HTTP hop alone,
// reads and writes through the orchestrator, each at 1 and 32 concurrent
// callers. b.N is the number of requests; ns/op is wall time per request
// (1/throughput). Custom metrics: req/s, p50-ms, p99-ms, and the ratios to
// the floor at the same concurrency (x-floor-req/s, x-floor-p50).
//
// RIDESHARE_BENCH_CONFIG=hcl/docker.hcl runs it on docker+postgres, and
// RIDESHARE_BENCH_SUBPROCESS=1 with the built-in backends as go-plugin
// subprocesses instead of in-process: the cost of the plugin boundary and of
// each backend, measured the same way.
func BenchmarkDataPath(b *testing.B) {
	s := stacktest.Start(b, benchStack())
	ctx := context.Background()
	sess, err := bench.Open(ctx, bench.Options{Addr: s.URL, AMQPURL: s.Config.AMQPURL, Concurrency: levels[len(levels)-1]})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	var rep bench.Report
	for _, sc := range bench.AllScenarios {
		for _, c := range levels {
			b.Run(fmt.Sprintf("%s/c=%d", sc, c), func(b *testing.B) {
				res, err := sess.Measure(ctx, sc, c, bench.Budget{N: b.N})
				if err != nil {
					b.Fatal(err)
				}
				if res.Errors > 0 {
					b.Fatalf("%d of %d requests failed; first: %s", res.Errors, res.Errors+res.Requests, res.FirstError)
				}
				res = rep.Add(res)
				b.ReportMetric(res.PerSec, "req/s")
				b.ReportMetric(float64(res.P50)/1e6, "p50-ms")
				b.ReportMetric(float64(res.P99)/1e6, "p99-ms")
				if res.PerSecToFloor > 0 {
					b.ReportMetric(res.PerSecToFloor, "x-floor-req/s")
					b.ReportMetric(res.P50ToFloor, "x-floor-p50")
				}
			})
		}
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	b.Logf("stack %s, run %s:\n%s", s.URL, sess.RunID(), out.String())
}

// benchStack is the stack the data-path benchmark runs on (see its doc).
func benchStack() stacktest.Options {
	opts := stacktest.Options{Slaves: 2, Config: os.Getenv("RIDESHARE_BENCH_CONFIG")}
	if os.Getenv("RIDESHARE_BENCH_SUBPROCESS") != "" {
		opts.Edit = func(c *config.Config) { c.BuiltinPlugins = config.BuiltinsSubprocess }
	}
	return opts
}

// BenchmarkFailover kill -9s the master (master-kill) and the oldest slave
// (slave-kill) b.N times each, every time from a settled stack (1 master + 2
// slaves, all ready), and reports the median, min and max of: kill → first
// successful write (first-write-*, master only), kill → 1 master + 2 slaves
// listed in GET /api/v1/workers without the victim (listed-*), and kill →
// all of them ready, i.e. registered and caught up (ready-*).
// Use -benchtime 10x for 10 drills of each (Go runs one more first, with
// b.N=1, which is not in the figures).
func BenchmarkFailover(b *testing.B) {
	s := stacktest.Start(b, stacktest.Options{Slaves: 2})
	ctx := context.Background()
	d, err := bench.NewDriller(ctx, bench.FailoverOptions{Addr: s.URL, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	report := func(b *testing.B, name string, ds []time.Duration) {
		st := bench.Summarize(ds)
		b.ReportMetric(float64(st.Median)/1e6, name+"-p50-ms")
		b.ReportMetric(float64(st.Min)/1e6, name+"-min-ms")
		b.ReportMetric(float64(st.Max)/1e6, name+"-max-ms")
	}
	drill := func(kill func(context.Context) (bench.Sample, error)) func(b *testing.B) {
		return func(b *testing.B) {
			var first, listed, ready []time.Duration
			for i := 0; i < b.N; i++ {
				smp, err := kill(ctx)
				if err != nil {
					b.Fatal(err)
				}
				first = append(first, smp.FirstWrite)
				listed = append(listed, smp.Listed)
				ready = append(ready, smp.Ready)
			}
			if bench.Summarize(first).N > 0 {
				report(b, "first-write", first)
			}
			report(b, "listed", listed)
			report(b, "ready", ready)
		}
	}
	b.Run("master-kill", drill(d.KillMaster))
	b.Run("slave-kill", drill(d.KillSlave))
}

// TestBenchSmoke runs a tiny bench.Run against a real stack and checks the
// report is sane: every scenario at every level measured, requests answered,
// no errors, p50 <= p99, ratios to the floor computed.
func TestBenchSmoke(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lv := []int{1, 4}
	rep, err := bench.Run(ctx, bench.Options{Addr: s.URL, AMQPURL: s.Config.AMQPURL,
		Duration: 100 * time.Millisecond, Warmup: 20 * time.Millisecond, Levels: lv, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Logf("\n%s", out.String())
	if got, want := len(rep.Results), len(bench.AllScenarios)*len(lv); got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	for _, sc := range bench.AllScenarios {
		for _, c := range lv {
			r, ok := rep.Find(sc, c)
			switch {
			case !ok:
				t.Errorf("%s @%d: not measured", sc, c)
			case r.Errors != 0:
				t.Errorf("%s @%d: %d errors, first: %s", sc, c, r.Errors, r.FirstError)
			case r.Requests == 0 || r.PerSec <= 0:
				t.Errorf("%s @%d: no request answered (%+v)", sc, c, r)
			case r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max:
				t.Errorf("%s @%d: percentiles out of order: p50 %s p99 %s max %s", sc, c, r.P50, r.P99, r.Max)
			case sc != bench.Floor && (r.PerSecToFloor <= 0 || r.P50ToFloor <= 0):
				t.Errorf("%s @%d: ratios to the floor missing: %+v", sc, c, r)
			}
		}
	}
	if !strings.Contains(out.String(), "write p50 @1") {
		t.Errorf("table lacks the write p50 check:\n%s", out.String())
	}
}

// TestBenchUnreachable checks the errors name what is not answering.
func TestBenchUnreachable(t *testing.T) {
	ctx := context.Background()
	_, err := bench.Run(ctx, bench.Options{Addr: "http://127.0.0.1:1", AMQPURL: stacktest.AMQPURL, ConnectTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the orchestrator at http://127.0.0.1:1") {
		t.Fatalf("unreachable orchestrator: got %v", err)
	}
	_, err = bench.NewDriller(ctx, bench.FailoverOptions{Addr: "127.0.0.1:1", ConnectTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the orchestrator") {
		t.Fatalf("unreachable orchestrator (failover): got %v", err)
	}
	// An orchestrator that answers, a broker that does not.
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"id":"a","pid":1,"role":"master"},{"id":"b","pid":2,"role":"slave"}]`)
	}))
	defer fake.Close()
	start := time.Now()
	_, err = bench.Run(ctx, bench.Options{Addr: fake.URL, AMQPURL: "amqp://guest:guest@127.0.0.1:1/", ConnectTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach RabbitMQ") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable broker: got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("unreachable broker took %s to report", time.Since(start))
	}
}

// TestMedianOfRuns: each figure of the combined report is the median over
// the runs, the ratios included (each run's ratio is to its own floor), and
// errors add up.
func TestMedianOfRuns(t *testing.T) {
	run := func(perSec float64, p50 time.Duration, ratio float64, errs int) bench.Report {
		return bench.Report{Results: []bench.Result{{Scenario: bench.Read, Concurrency: 32, PerSec: perSec, P50: p50,
			P99: 2 * p50, Max: 3 * p50, PerSecToFloor: ratio, Errors: errs}}}
	}
	m := bench.Median([]bench.Report{
		run(3000, 9*time.Millisecond, 0.40, 0),
		run(1000, 30*time.Millisecond, 0.90, 1),
		run(2000, 10*time.Millisecond, 0.50, 2),
	})
	r, ok := m.Find(bench.Read, 32)
	if !ok {
		t.Fatal("read @32 missing from the median report")
	}
	if r.PerSec != 2000 || r.P50 != 10*time.Millisecond || r.PerSecToFloor != 0.50 || r.Max != 30*time.Millisecond || r.Errors != 3 {
		t.Fatalf("median report: %+v", r)
	}
}
