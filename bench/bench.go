// Package bench measures the DBaaS data path against its floor, in one run on
// one broker:
//
//   - floor: a bare AMQP echo RPC (the pattern of broker.RPC against a
//     consumer shaped like a worker), the least any DB API call can cost;
//   - floor-confirm: the same with a persistent message and a publisher
//     confirm on a durable queue, as writes are sent;
//   - http: GET /healthz on the orchestrator, the cost of the HTTP hop alone;
//   - read: POST /api/v1/db/read of a few seeded rides;
//   - write: POST /api/v1/db/write inserting a unique user;
//
// each with 1 and N concurrent callers (req/s, p50, p99, and the ratio to
// the floor at the same concurrency), and the failover times (failover.go).
//
// Run drives a whole run for the CLI (rideshare bench); Session.Measure is one
// measurement, used by the go test benchmarks with b.N requests.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/broker"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/orchestrator"
)

// Scenarios, in the order Run measures them.
const (
	Floor        = "floor"
	FloorConfirm = "floor-confirm"
	HTTP         = "http"
	Read         = "read"
	Write        = "write"
)

// AllScenarios is the default set, in order: the floors first, so that the
// ratios of the others can be computed as they come.
var AllScenarios = []string{Floor, FloorConfirm, HTTP, Read, Write}

// Options configure a benchmark run.
type Options struct {
	// Addr is the orchestrator's base URL (http://127.0.0.1:8083).
	Addr string
	// AMQPURL is the broker the orchestrator and workers use: the floor is
	// measured on it.
	AMQPURL string
	// Duration of each measurement (default 5s).
	Duration time.Duration
	// Warmup runs before each measurement and is discarded (default 500ms;
	// negative: none).
	Warmup time.Duration
	// Concurrency is the high concurrency level (default 32). By default
	// writes are measured at 1, 8, Concurrency and 128 callers, the other
	// scenarios at 1 and Concurrency, and the floor at every level any of
	// them uses (ratios compare figures of the same level). Levels, when set,
	// is used for every scenario instead.
	Concurrency int
	Levels      []int
	// Scenarios to measure (default AllScenarios).
	Scenarios []string
	// SeedRows is how many rides the read scenario reads (default 5).
	SeedRows int
	// Prefetch of the echo consumer (default 16, the worker's default).
	Prefetch int
	// RequestTimeout bounds one request (default 30s).
	RequestTimeout time.Duration
	// ConnectTimeout bounds the reachability checks of the orchestrator and
	// the broker (default 5s).
	ConnectTimeout time.Duration
	// Logf, when set, reports progress.
	Logf func(format string, args ...any)
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 500 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = AllScenarios
	}
	if o.SeedRows <= 0 {
		o.SeedRows = 5
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 16
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if !strings.Contains(o.Addr, "://") && o.Addr != "" {
		o.Addr = "http://" + o.Addr
	}
	o.Addr = strings.TrimRight(o.Addr, "/")
}

// WriteLevels are the extra concurrency levels writes are measured at: group
// commit shows in how throughput grows with the callers.
var WriteLevels = []int{8, 128}

// levels are the concurrency levels of scenario sc, ascending.
func (o *Options) levels(sc string) []int {
	if len(o.Levels) > 0 {
		return o.Levels
	}
	set := map[int]bool{1: true, o.Concurrency: true}
	switch sc {
	case Write:
		if o.Concurrency > 1 {
			for _, c := range WriteLevels {
				set[c] = true
			}
		}
	case Floor:
		for _, x := range o.Scenarios {
			if x != Floor {
				for _, c := range o.levels(x) {
					set[c] = true
				}
			}
		}
	}
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// Result is one measurement: one scenario at one concurrency.
type Result struct {
	Scenario    string        `json:"scenario"`
	Concurrency int           `json:"concurrency"`
	Requests    int           `json:"requests"` // answered successfully
	Errors      int           `json:"errors"`
	FirstError  string        `json:"first_error,omitempty"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	PerSec      float64       `json:"req_per_sec"` // successful requests per second
	Mean        time.Duration `json:"mean_ns"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	// Ratios to the floor at the same concurrency (0 when there is none):
	// PerSecToFloor = PerSec / floor PerSec; P50ToFloor = P50 / floor P50.
	PerSecToFloor float64 `json:"req_per_sec_to_floor,omitempty"`
	P50ToFloor    float64 `json:"p50_to_floor,omitempty"`
}

// Report is a whole run.
type Report struct {
	Results []Result `json:"results"`
}

// Find returns the result of scenario at concurrency c.
func (r *Report) Find(scenario string, c int) (Result, bool) {
	for _, x := range r.Results {
		if x.Scenario == scenario && x.Concurrency == c {
			return x, true
		}
	}
	return Result{}, false
}

// Add records res (replacing an earlier one of the same scenario and
// concurrency), fills in its ratios to the floor when the floor is known, and
// returns it.
func (r *Report) Add(res Result) Result {
	if res.Scenario != Floor {
		if f, ok := r.Find(Floor, res.Concurrency); ok {
			if f.PerSec > 0 {
				res.PerSecToFloor = res.PerSec / f.PerSec
			}
			if f.P50 > 0 {
				res.P50ToFloor = float64(res.P50) / float64(f.P50)
			}
		}
	}
	for i, x := range r.Results {
		if x.Scenario == res.Scenario && x.Concurrency == res.Concurrency {
			r.Results[i] = res
			return res
		}
	}
	r.Results = append(r.Results, res)
	return res
}

// Check is one figure compared with what the design expects.
type Check struct {
	Name   string
	Value  string
	Expect string
	OK     bool
}

// Checks compares the run with the targets of the data path, each a ratio
// to the floor of the same run (figures the run did not measure are left
// out): reads at the high level >= 0.5× the floor's throughput; read p50 with
// one caller <= 2× the floor's; writes at the high level >= 0.2× the floor's
// throughput with a p50 <= 15 ms; write p50 with one caller <= 3 ms.
func (r *Report) Checks() []Check {
	var out []Check
	hi := 0
	for _, x := range r.Results {
		if x.Scenario == Read {
			hi = max(hi, x.Concurrency)
		}
	}
	if hi == 0 {
		hi = 32
	}
	// The figures beside a ratio are the scenario's and the floor's own (with
	// several runs, medians each, so they need not divide to the ratio, which
	// is the median of each run's ratio to its own floor).
	floor := func(c int) Result { f, _ := r.Find(Floor, c); return f }
	if rd, ok := r.Find(Read, hi); ok && rd.PerSecToFloor > 0 {
		out = append(out, Check{Name: fmt.Sprintf("read req/s ÷ floor req/s @%d", hi),
			Value:  fmt.Sprintf("%.2f (%.0f vs %.0f)", rd.PerSecToFloor, rd.PerSec, floor(hi).PerSec),
			Expect: ">= 0.50", OK: rd.PerSecToFloor >= 0.50})
	}
	if rd, ok := r.Find(Read, 1); ok && rd.P50ToFloor > 0 {
		out = append(out, Check{Name: "read p50 @1 ÷ floor p50 @1", Value: fmt.Sprintf("%.2f (%s vs %s)",
			rd.P50ToFloor, ms(rd.P50), ms(floor(1).P50)), Expect: "<= 2.0", OK: rd.P50ToFloor <= 2.0})
	}
	if w, ok := r.Find(Write, hi); ok && w.PerSecToFloor > 0 && hi > 1 {
		out = append(out, Check{Name: fmt.Sprintf("write req/s ÷ floor req/s @%d", hi),
			Value:  fmt.Sprintf("%.3f (%.0f vs %.0f)", w.PerSecToFloor, w.PerSec, floor(hi).PerSec),
			Expect: ">= 0.20", OK: w.PerSecToFloor >= 0.20})
		out = append(out, Check{Name: fmt.Sprintf("write p50 @%d", hi), Value: ms(w.P50),
			Expect: "<= 15 ms", OK: w.P50 <= 15*time.Millisecond})
	}
	if w, ok := r.Find(Write, 1); ok && w.Requests > 0 {
		c := Check{Name: "write p50 @1", Value: ms(w.P50), Expect: "<= 3 ms", OK: w.P50 <= 3*time.Millisecond}
		if f, ok := r.Find(Floor, 1); ok {
			c.Value += fmt.Sprintf(" (floor %s, ×%.1f)", ms(f.P50), w.P50ToFloor)
		}
		out = append(out, c)
	}
	return out
}

// WriteTable prints the report as a table, then the checks.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%-14s %5s %10s %9s %9s %9s %7s %11s %11s\n",
		"SCENARIO", "CONC", "REQ/S", "P50", "P99", "MAX", "ERRORS", "×FLOOR REQ/S", "×FLOOR P50")
	for _, x := range r.Results {
		ratio := func(v float64, f string) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf(f, v)
		}
		fmt.Fprintf(w, "%-14s %5d %10.0f %9s %9s %9s %7d %12s %11s\n", x.Scenario, x.Concurrency, x.PerSec,
			ms(x.P50), ms(x.P99), ms(x.Max), x.Errors, ratio(x.PerSecToFloor, "%.3f"), ratio(x.P50ToFloor, "%.2f"))
	}
	for _, x := range r.Results {
		if x.FirstError != "" {
			fmt.Fprintf(w, "first error of %s @%d: %s\n", x.Scenario, x.Concurrency, x.FirstError)
		}
	}
	if cs := r.Checks(); len(cs) > 0 {
		fmt.Fprintln(w)
		for _, c := range cs {
			mark := "ok  "
			if !c.OK {
				mark = "MISS"
			}
			fmt.Fprintf(w, "%s %-32s %-36s expected %s\n", mark, c.Name, c.Value, c.Expect)
		}
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// Session holds what a run needs: the echo server and client on the broker,
// the HTTP client, and the seeded rows. It is safe for sequential
// measurements (each measurement runs its own callers concurrently).
type Session struct {
	opts     Options
	http     *http.Client
	echo     *echoServer
	rpc      *broker.RPC
	runID    string
	readBody []byte
	seq      atomic.Int64
}

// Open checks that the orchestrator and the broker answer, starts the echo
// server and client, and seeds the rows the read scenario reads.
func Open(ctx context.Context, opts Options) (*Session, error) {
	opts.defaults()
	if opts.Addr == "" {
		return nil, errors.New("no orchestrator address (set -addr)")
	}
	if opts.AMQPURL == "" {
		return nil, errors.New("no broker URL (set -amqp)")
	}
	s := &Session{opts: opts, runID: randomID()[:8], http: newHTTPClient(opts.Concurrency, opts.RequestTimeout)}
	if err := s.checkOrchestrator(ctx); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if _, err := amqp.ParseURI(opts.AMQPURL); err != nil {
		return nil, fmt.Errorf("bad broker URL: %w", err)
	}
	queue := "bench.echo." + s.runID
	echo, err := startEcho(cctx, opts.AMQPURL, queue, opts.Prefetch)
	if err != nil {
		return nil, fmt.Errorf("cannot reach RabbitMQ (check -amqp and that the broker runs): %w", err)
	}
	rpc, err := broker.NewRPC(cctx, opts.AMQPURL, broker.RPCOptions{ReplyQueue: "bench.reply." + s.runID}, hclog.NewNullLogger())
	if err != nil {
		echo.Close()
		return nil, fmt.Errorf("cannot reach RabbitMQ (check -amqp and that the broker runs): %w", err)
	}
	s.echo, s.rpc = echo, rpc
	if needs(opts.Scenarios, Read) {
		if err := s.seed(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func needs(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Close stops the echo server and client (their queues are deleted).
func (s *Session) Close() {
	if s.rpc != nil {
		s.rpc.Close()
	}
	if s.echo != nil {
		s.echo.Close()
	}
	s.http.CloseIdleConnections()
}

// RunID names this session's rows: users bench-<id>-*.
func (s *Session) RunID() string { return s.runID }

func (s *Session) checkOrchestrator(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	var ws []orchestrator.WorkerInfo
	if err := s.getJSON(ctx, "/api/v1/workers", &ws); err != nil {
		return err
	}
	masters, slaves := 0, 0
	for _, w := range ws {
		if w.Role == "master" {
			masters++
		} else if !w.Draining {
			slaves++
		}
	}
	if needs(s.opts.Scenarios, Write) && masters == 0 {
		return fmt.Errorf("the orchestrator at %s has no master right now (%d workers): writes cannot be measured", s.opts.Addr, len(ws))
	}
	if needs(s.opts.Scenarios, Read) && slaves == 0 {
		return fmt.Errorf("the orchestrator at %s has no slave right now (%d workers): reads cannot be measured", s.opts.Addr, len(ws))
	}
	return nil
}

func (s *Session) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.Addr+path, nil)
	if err != nil {
		return fmt.Errorf("bad orchestrator address %q: %w", s.opts.Addr, err)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the orchestrator at %s (is it running? check -addr): %w", s.opts.Addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s%s: status %d: %s", s.opts.Addr, path, resp.StatusCode, snippet(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s%s: unreadable answer (is this the orchestrator?): %w", s.opts.Addr, path, err)
	}
	return nil
}

// seed inserts one user and SeedRows rides created by it, and waits until a
// read at the last seq sees them all.
func (s *Session) seed(ctx context.Context) error {
	user := "bench-" + s.runID + "-seed"
	var seq uint64
	write := func(req dbapi.WriteRequest) error {
		body, _ := json.Marshal(req)
		out, err := s.post(ctx, "/api/v1/db/write", body)
		if err != nil {
			return fmt.Errorf("seed the read scenario: %w", err)
		}
		var res dbapi.WriteResult
		if err := json.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("seed the read scenario: unreadable write answer: %w", err)
		}
		seq = max(seq, res.Seq)
		return nil
	}
	if err := write(dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert,
		Values: map[string]any{"username": user, "password": strings.Repeat("ab", 20)}}); err != nil {
		return err
	}
	for i := 0; i < s.opts.SeedRows; i++ {
		if err := write(dbapi.WriteRequest{Table: "rides", Op: dbapi.OpInsert, Values: map[string]any{
			"created_by": user, "timestamp": "01-01-2030:00-00-00", "source": 1 + i%198, "destination": 2 + i%197}}); err != nil {
			return err
		}
	}
	read := dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id", "created_by", "timestamp", "source", "destination"},
		Where: map[string]any{"created_by": user}, Limit: 100}
	s.readBody, _ = json.Marshal(read)
	// Every slave must have the rows before the measurement starts, so
	// that reads return the same rows wherever they land.
	read.MinSeq = seq
	check, _ := json.Marshal(read)
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; n < 20; {
		out, err := s.post(ctx, "/api/v1/db/read", check)
		var res dbapi.ReadResult
		switch {
		case err == nil && json.Unmarshal(out, &res) == nil && len(res.Rows) == s.opts.SeedRows:
			n++
			continue
		case time.Now().After(deadline):
			return fmt.Errorf("seeded %d rides at seq %d but reads do not show them after 15s (last: %v, %d rows)",
				s.opts.SeedRows, seq, err, len(res.Rows))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// post sends one DB API request and returns the body of a 200 answer.
func (s *Session) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.Addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return s.do(req)
}

func (s *Session) do(req *http.Request) ([]byte, error) {
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, snippet(out))
	}
	return out, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func newHTTPClient(concurrency int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no global limit
		MaxIdleConnsPerHost: max(64, 2*concurrency),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Budget is how long one measurement lasts: N requests in all, or, when N is
// 0, until Duration has passed.
type Budget struct {
	N        int
	Duration time.Duration
}

// op is one request of a scenario.
type op func(ctx context.Context) error

func (s *Session) op(scenario string) (op, error) {
	switch scenario {
	case Floor:
		body := s.readBody
		if body == nil {
			body = []byte(`{"table":"rides","where":{"created_by":"x"}}`)
		}
		return func(ctx context.Context) error {
			return s.echoCall(ctx, body, broker.CallOptions{Expiration: s.opts.RequestTimeout})
		}, nil
	case FloorConfirm:
		return func(ctx context.Context) error {
			return s.echoCall(ctx, s.writeBody(), broker.CallOptions{Persistent: true})
		}, nil
	case HTTP:
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.Addr+"/healthz", nil)
			if err != nil {
				return err
			}
			_, err = s.do(req)
			return err
		}, nil
	case Read:
		if s.readBody == nil {
			return nil, errors.New("read scenario: rows were not seeded (Options.Scenarios lacked read at Open)")
		}
		return func(ctx context.Context) error {
			_, err := s.post(ctx, "/api/v1/db/read", s.readBody)
			return err
		}, nil
	case Write:
		return func(ctx context.Context) error {
			_, err := s.post(ctx, "/api/v1/db/write", s.writeBody())
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (known: %s)", scenario, strings.Join(AllScenarios, ", "))
}

// echoCall is one floor request: body to the echo server and back, as the
// orchestrator sends a read (or, persistent, a write).
func (s *Session) echoCall(ctx context.Context, body []byte, opt broker.CallOptions) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	a, err := s.rpc.Call(ctx, s.echo.queue, randomID(), body, opt)
	if err != nil {
		return err
	}
	if len(a.Body) != len(body) {
		return fmt.Errorf("echo of %d bytes answered with %d", len(body), len(a.Body))
	}
	return nil
}

// writeBody inserts a user no other request of any run inserts.
func (s *Session) writeBody() []byte {
	n := s.seq.Add(1)
	return fmt.Appendf(nil, `{"table":"users","op":"insert","values":{"username":"bench-%s-%d","password":"%s"}}`,
		s.runID, n, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
}

// Measure runs scenario with c concurrent callers for the budget.
func (s *Session) Measure(ctx context.Context, scenario string, c int, b Budget) (Result, error) {
	fn, err := s.op(scenario)
	if err != nil {
		return Result{}, err
	}
	if c <= 0 {
		c = 1
	}
	res := Result{Scenario: scenario, Concurrency: c}
	var (
		remaining = int64(b.N)
		deadline  time.Time
		mu        sync.Mutex
		all       []time.Duration
		wg        sync.WaitGroup
	)
	start := time.Now()
	if b.N <= 0 {
		deadline = start.Add(b.Duration)
	}
	var counter atomic.Int64
	counter.Store(remaining)
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			errs, first := 0, ""
			for {
				if b.N > 0 {
					if counter.Add(-1) < 0 {
						break
					}
				} else if !time.Now().Before(deadline) {
					break
				}
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				err := fn(ctx)
				d := time.Since(t0)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			res.Errors += errs
			if res.FirstError == "" {
				res.FirstError = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	summarize(&res, all)
	return res, nil
}

func summarize(res *Result, lat []time.Duration) {
	res.Requests = len(lat)
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	res.Mean = sum / time.Duration(len(lat))
	res.P50 = percentile(lat, 0.50)
	res.P90 = percentile(lat, 0.90)
	res.P99 = percentile(lat, 0.99)
	res.Max = lat[len(lat)-1]
	if res.Elapsed > 0 {
		res.PerSec = float64(len(lat)) / res.Elapsed.Seconds()
	}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

// Run measures every scenario at every level against a running stack and
// returns the report. Measurements with errors are kept in the report; Run
// fails only when it cannot measure at all.
func Run(ctx context.Context, opts Options) (Report, error) {
	opts.defaults()
	var rep Report
	for _, sc := range opts.Scenarios {
		if !needs(AllScenarios, sc) {
			return rep, fmt.Errorf("unknown scenario %q (known: %s)", sc, strings.Join(AllScenarios, ", "))
		}
	}
	s, err := Open(ctx, opts)
	if err != nil {
		return rep, err
	}
	defer s.Close()
	for _, sc := range opts.Scenarios {
		for _, c := range opts.levels(sc) {
			if opts.Warmup > 0 {
				if _, err := s.Measure(ctx, sc, c, Budget{Duration: opts.Warmup}); err != nil {
					return rep, err
				}
			}
			res, err := s.Measure(ctx, sc, c, Budget{Duration: opts.Duration})
			if err != nil {
				return rep, err
			}
			res = rep.Add(res)
			opts.Logf("%-14s c=%-3d %8.0f req/s  p50 %s  p99 %s  errors %d", sc, c, res.PerSec, ms(res.P50), ms(res.P99), res.Errors)
		}
	}
	return rep, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Median combines the reports of several runs of the same measurements into
// one: for each scenario and level, the median of each figure over the runs,
// the ratios to the floor included (each run's ratio is to its own floor).
func Median(reps []Report) Report {
	var out Report
	if len(reps) == 0 {
		return out
	}
	for _, first := range reps[0].Results {
		var runs []Result
		for _, r := range reps {
			if x, ok := r.Find(first.Scenario, first.Concurrency); ok {
				runs = append(runs, x)
			}
		}
		m := first
		medianOf(runs, func(x Result) float64 { return float64(x.Requests) }, func(v float64) { m.Requests = int(v) })
		medianOf(runs, func(x Result) float64 { return x.PerSec }, func(v float64) { m.PerSec = v })
		medianOf(runs, func(x Result) float64 { return float64(x.P50) }, func(v float64) { m.P50 = time.Duration(v) })
		medianOf(runs, func(x Result) float64 { return float64(x.P99) }, func(v float64) { m.P99 = time.Duration(v) })
		medianOf(runs, func(x Result) float64 { return float64(x.Max) }, func(v float64) { m.Max = time.Duration(v) })
		medianOf(runs, func(x Result) float64 { return x.PerSecToFloor }, func(v float64) { m.PerSecToFloor = v })
		medianOf(runs, func(x Result) float64 { return x.P50ToFloor }, func(v float64) { m.P50ToFloor = v })
		m.Errors = 0
		for _, x := range runs {
			m.Errors += x.Errors
			if m.FirstError == "" {
				m.FirstError = x.FirstError
			}
		}
		out.Results = append(out.Results, m)
	}
	return out
}

// medianOf sets the median (the lower middle of an even count) of get over
// runs.
func medianOf(runs []Result, get func(Result) float64, set func(float64)) {
	vs := make([]float64, 0, len(runs))
	for _, x := range runs {
		vs = append(vs, get(x))
	}
	sort.Float64s(vs)
	set(vs[(len(vs)-1)/2])
}
