package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/dbapi"
)

// Default settings of a Client.
const (
	DefaultTimeout  = 20 * time.Second
	DefaultAttempts = 4
)

// defaultBackoff is the first pause between attempts; it doubles after each
// attempt, with jitter.
const defaultBackoff = 100 * time.Millisecond

// maxAnswerBytes bounds an answer the client reads from the orchestrator.
const maxAnswerBytes = 64 << 20

// Client talks to one orchestrator. It is safe for concurrent use.
type Client struct {
	base           string
	http           *http.Client
	timeout        time.Duration
	attempts       int
	backoff        time.Duration
	readYourWrites bool
	log            hclog.Logger
	token          string // sent on every call ("": none)
	dbToken        string // sent on DB API calls instead, when set

	seq atomic.Uint64 // highest seq seen in a write answer
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds every call, retries included (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithAttempts sets how many times a retryable call is tried in all
// (default DefaultAttempts; 1 disables retries).
func WithAttempts(n int) Option { return func(c *Client) { c.attempts = max(1, n) } }

// WithHTTPClient replaces the HTTP client (by default one of its own, with
// up to 64 idle connections to the orchestrator). The client's per-call
// timeout applies on top of h.Timeout.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithLogger sets the logger retries are reported to.
func WithLogger(l hclog.Logger) Option { return func(c *Client) { c.log = l } }

// WithReadYourWrites turns the automatic min_seq on reads on or off
// (default on). Off, a read carries only the min_seq its request names.
func WithReadYourWrites(on bool) Option { return func(c *Client) { c.readYourWrites = on } }

// WithToken sends "Authorization: Bearer <token>" on every call (the
// orchestrator's admin_token or db_token; "" sends none).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithDBToken sends token instead of WithToken's on the DB API's calls
// (Write, Read, Clear, DeleteAll), for a client that makes both admin and
// DB API calls to an orchestrator whose two tokens differ.
func WithDBToken(token string) Option { return func(c *Client) { c.dbToken = token } }

// NewClient returns a client of the orchestrator at baseURL (like
// "http://127.0.0.1:8083"; a bare host:port gets http://).
func NewClient(baseURL string, opts ...Option) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	c := &Client{
		base:           strings.TrimRight(baseURL, "/"),
		timeout:        DefaultTimeout,
		attempts:       DefaultAttempts,
		backoff:        defaultBackoff,
		readYourWrites: true,
		log:            hclog.NewNullLogger(),
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: tr}
	}
	return c
}

// BaseURL is the orchestrator the client talks to.
func (c *Client) BaseURL() string { return c.base }

// Seq is the highest seq the client has seen in a write answer: the min_seq
// its reads carry.
func (c *Client) Seq() uint64 { return c.seq.Load() }

// Observe raises the client's seq to at least seq (a seq learned elsewhere,
// e.g. from another service, that later reads must reflect).
func (c *Client) Observe(seq uint64) {
	for {
		cur := c.seq.Load()
		if seq <= cur || c.seq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// The DB API.

// Write sends one write (POST /api/v1/db/write). On success the answer's
// seq is remembered for read-your-writes.
func (c *Client) Write(ctx context.Context, req dbapi.WriteRequest) (dbapi.WriteResult, error) {
	var res dbapi.WriteResult
	op := fmt.Sprintf("db write %s on %q", req.Op, req.Table)
	if err := c.call(ctx, op, http.MethodPost, RouteDBWrite, req, &res, false); err != nil {
		return res, err
	}
	c.Observe(res.Seq)
	return res, nil
}

// Read sends one read (POST /api/v1/db/read). Unless req.MinSeq is higher
// or read-your-writes is off, it carries the client's seq as min_seq. Row
// numbers are int64, text is string.
func (c *Client) Read(ctx context.Context, req dbapi.ReadRequest) (dbapi.ReadResult, error) {
	if c.readYourWrites && req.MinSeq < c.Seq() {
		req.MinSeq = c.Seq()
	}
	var res dbapi.ReadResult
	op := fmt.Sprintf("db read of %q", req.Table)
	if err := c.call(ctx, op, http.MethodPost, RouteDBRead, req, &res, true); err != nil {
		return res, err
	}
	for _, row := range res.Rows {
		dbapi.Normalize(row)
	}
	return res, nil
}

// Clear empties every table of the database (POST /api/v1/db/clear). A
// service that owns only some tables uses DeleteAll instead.
func (c *Client) Clear(ctx context.Context) (dbapi.WriteResult, error) {
	var res dbapi.WriteResult
	if err := c.call(ctx, "db clear", http.MethodPost, RouteDBClear, struct{}{}, &res, false); err != nil {
		return res, err
	}
	c.Observe(res.Seq)
	return res, nil
}

// DeleteAll deletes every row of one table: an ordinary delete with no where.
func (c *Client) DeleteAll(ctx context.Context, table string) (dbapi.WriteResult, error) {
	return c.Write(ctx, dbapi.WriteRequest{Table: table, Op: dbapi.OpDelete})
}

// The admin API and the probes.

// CrashMaster kills the master (POST /api/v1/crash/master) and returns its
// pid, as the one element of the answer. A 409 (ErrConflict) when there is
// no master right now.
func (c *Client) CrashMaster(ctx context.Context) ([]string, error) {
	var pids []string
	err := c.call(ctx, "POST "+RouteCrashMaster, http.MethodPost, RouteCrashMaster, nil, &pids, false)
	return pids, err
}

// CrashSlave kills the slave with the highest pid (POST
// /api/v1/crash/slave) and returns its pid, as the one element of the
// answer. A 409 (ErrConflict) when there is no slave.
func (c *Client) CrashSlave(ctx context.Context) ([]string, error) {
	var pids []string
	err := c.call(ctx, "POST "+RouteCrashSlave, http.MethodPost, RouteCrashSlave, nil, &pids, false)
	return pids, err
}

// Switchover hands the master's lead to the worker to ("" : the lowest-pid
// ready slave) with no failed write (POST /api/v1/switchover). A 409
// (ErrConflict) when there is no master or no such ready slave. Never
// retried: a second order would move the lead again.
func (c *Client) Switchover(ctx context.Context, to string) (SwitchoverResult, error) {
	var res SwitchoverResult
	err := c.call(ctx, "POST "+RouteSwitchover, http.MethodPost, RouteSwitchover, SwitchoverRequest{To: to}, &res, false)
	return res, err
}

// WorkerList is the sorted pids of every worker (GET /api/v1/worker/list).
func (c *Client) WorkerList(ctx context.Context) ([]int, error) {
	var pids []int
	err := c.call(ctx, "GET "+RouteWorkerList, http.MethodGet, RouteWorkerList, nil, &pids, true)
	return pids, err
}

// Workers is every worker, sorted by pid (GET /api/v1/workers).
func (c *Client) Workers(ctx context.Context) ([]WorkerInfo, error) {
	var ws []WorkerInfo
	err := c.call(ctx, "GET "+RouteWorkers, http.MethodGet, RouteWorkers, nil, &ws, true)
	return ws, err
}

// Status is the workers with their lag, the master's epoch and seq, and
// the last failover (GET /api/v1/status).
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.call(ctx, "GET "+RouteStatus, http.MethodGet, RouteStatus, nil, &st, true)
	return st, err
}

// Events is the orchestrator's timeline, oldest first (GET /api/v1/events).
func (c *Client) Events(ctx context.Context) ([]Event, error) {
	var evs []Event
	err := c.call(ctx, "GET "+RouteEvents, http.MethodGet, RouteEvents, nil, &evs, true)
	return evs, err
}

// Health is GET /healthz: nil when the orchestrator's HTTP server answers 2xx.
func (c *Client) Health(ctx context.Context) error {
	return c.call(ctx, "GET "+RouteHealthz, http.MethodGet, RouteHealthz, nil, nil, true)
}

// tokenFor is the bearer token a call to path sends ("": none).
func (c *Client) tokenFor(path string) string {
	if c.dbToken != "" && strings.HasPrefix(path, RouteDBPrefix) {
		return c.dbToken
	}
	return c.token
}
