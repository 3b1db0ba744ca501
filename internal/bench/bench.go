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
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/worker"
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

// DefaultConcurrency is the high concurrency level of a run (Options and
// rideshare bench -concurrency).
const DefaultConcurrency = 32

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
	// Concurrency is the high concurrency level (default DefaultConcurrency).
	// By default writes are measured at 1, 8, Concurrency and 128 callers,
	// the other scenarios at 1 and Concurrency, and the floor at every level
	// any of them uses (ratios compare figures of the same level). Levels, when set,
	// is used for every scenario instead.
	Concurrency int
	Levels      []int
	// Scenarios to measure (default AllScenarios).
	Scenarios []string
	// SeedRows is how many rides the read scenario reads (default 5).
	SeedRows int
	// Prefetch of the echo consumer (default worker.DefaultPrefetch, as a
	// slave's).
	Prefetch int
	// RequestTimeout bounds one request (default 30s).
	RequestTimeout time.Duration
	// ConnectTimeout bounds the reachability checks of the orchestrator and
	// the broker (default 5s).
	ConnectTimeout time.Duration
	// Logf, when set, reports progress.
	Logf func(format string, args ...any)
	// Token is sent as a bearer token on every call to the orchestrator,
	// DBToken instead on the DB API's when set (api.WithToken,
	// api.WithDBToken).
	Token, DBToken string
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 500 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = AllScenarios
	}
	if o.SeedRows <= 0 {
		o.SeedRows = 5
	}
	if o.Prefetch <= 0 {
		o.Prefetch = worker.DefaultPrefetch
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

// Session holds what a run needs: the echo server and client on the broker,
// the orchestrator's client, and the seeded rows. It is safe for sequential
// measurements (each measurement runs its own callers concurrently).
type Session struct {
	opts     Options
	http     *http.Client
	client   *api.Client
	echo     *echoServer
	rpc      *broker.RPC
	runID    string
	readReq  dbapi.ReadRequest
	readBody []byte // readReq encoded, as the floor sends it
	seq      atomic.Int64
}

// newSession is a Session of opts (defaults applied) with its orchestrator
// client: one attempt per request (a failure is counted, never hidden by a
// retry), each bounded by opts.RequestTimeout, and reads without an
// automatic min_seq (they read the seeded rows, not the run's writes).
func newSession(opts Options, concurrency int) *Session {
	h := newHTTPClient(concurrency, opts.RequestTimeout)
	c := api.NewClient(opts.Addr, api.WithHTTPClient(h), api.WithTimeout(opts.RequestTimeout),
		api.WithAttempts(1), api.WithReadYourWrites(false), api.WithToken(opts.Token), api.WithDBToken(opts.DBToken))
	return &Session{opts: opts, runID: randomID()[:8], http: h, client: c}
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
	s := newSession(opts, opts.Concurrency)
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
	ws, err := s.workers(ctx)
	if err != nil {
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

// workers lists the orchestrator's workers; its errors say whether the
// orchestrator answered at all.
func (s *Session) workers(ctx context.Context) ([]api.WorkerInfo, error) {
	ws, err := s.client.Workers(ctx)
	switch {
	case err == nil:
		return ws, nil
	case api.StatusOf(err) == 0:
		return nil, fmt.Errorf("cannot reach the orchestrator at %s (is it running? check -addr): %w", s.opts.Addr, err)
	}
	return nil, fmt.Errorf("list the workers of the orchestrator at %s: %w", s.opts.Addr, err)
}

// seed inserts one user and SeedRows rides created by it, and waits until a
// read at the last seq sees them all.
func (s *Session) seed(ctx context.Context) error {
	user := "bench-" + s.runID + "-seed"
	var seq uint64
	write := func(req dbapi.WriteRequest) error {
		res, err := s.client.Write(ctx, req)
		if err != nil {
			return fmt.Errorf("seed the read scenario: %w", err)
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
	s.readReq = read
	s.readBody, _ = json.Marshal(read)
	// Every slave must have the rows before the measurement starts, so
	// that reads return the same rows wherever they land.
	read.MinSeq = seq
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; n < 20; {
		res, err := s.client.Read(ctx, read)
		switch {
		case err == nil && len(res.Rows) == s.opts.SeedRows:
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
		return s.client.Health, nil
	case Read:
		if s.readBody == nil {
			return nil, errors.New("read scenario: rows were not seeded (Options.Scenarios lacked read at Open)")
		}
		return func(ctx context.Context) error {
			_, err := s.client.Read(ctx, s.readReq)
			return err
		}, nil
	case Write:
		return func(ctx context.Context) error {
			_, err := s.client.Write(ctx, s.writeRequest())
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

// writeRequest inserts a user no other request of any run inserts.
func (s *Session) writeRequest() dbapi.WriteRequest {
	n := s.seq.Add(1)
	return dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{
		"username": fmt.Sprintf("bench-%s-%d", s.runID, n), "password": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}}
}

// writeBody is a writeRequest encoded, as the floor-confirm scenario sends it.
func (s *Session) writeBody() []byte {
	b, _ := json.Marshal(s.writeRequest())
	return b
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
