// Package dbclient is the RideShare services' client of the orchestrator's DB
// API (DESIGN §3.1): POST /api/v1/db/write, /api/v1/db/read and /api/v1/db/clear.
//
// Invariants:
//   - Read-your-writes per client: the client remembers the highest seq any
//     write answer carried and, unless told otherwise, sends it as min_seq on
//     every read, so a read issued after a write returned sees that write.
//   - A write is retried only when it surely did not reach the orchestrator's
//     queue (the connection was refused, or the orchestrator answered 503);
//     the orchestrator does not deduplicate writes across HTTP calls, so a
//     write whose fate is unknown (timeout, reset, 504) is never resent.
//   - Reads are retried on 502/503/504 and on any transport error.
//   - Every call is bounded by the per-call timeout and by its context.
package dbclient

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
	DefaultBackoff  = 100 * time.Millisecond
)

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

	seq atomic.Uint64 // highest seq seen in a write answer
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds every call, retries included (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithAttempts sets how many times a retryable call is tried in all
// (default DefaultAttempts; 1 disables retries).
func WithAttempts(n int) Option { return func(c *Client) { c.attempts = max(1, n) } }

// WithBackoff sets the first pause between attempts; it doubles after each
// attempt, with jitter (default DefaultBackoff).
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// WithHTTPClient replaces the HTTP client (its Timeout should be zero: the
// client's own per-call timeout applies).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithLogger sets the logger retries are reported to.
func WithLogger(l hclog.Logger) Option { return func(c *Client) { c.log = l } }

// WithReadYourWrites turns the automatic min_seq on reads on or off (default on).
func WithReadYourWrites(on bool) Option { return func(c *Client) { c.readYourWrites = on } }

// New returns a client of the orchestrator at baseURL (like
// "http://127.0.0.1:8083"; a bare host:port gets http://).
func New(baseURL string, opts ...Option) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	c := &Client{
		base:           strings.TrimRight(baseURL, "/"),
		http:           &http.Client{Transport: tr},
		timeout:        DefaultTimeout,
		attempts:       DefaultAttempts,
		backoff:        DefaultBackoff,
		readYourWrites: true,
		log:            hclog.NewNullLogger(),
	}
	for _, o := range opts {
		o(c)
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

// Write sends one write. On success the answer's seq is remembered for
// read-your-writes.
func (c *Client) Write(ctx context.Context, req dbapi.WriteRequest) (dbapi.WriteResult, error) {
	var res dbapi.WriteResult
	op := fmt.Sprintf("db write %s on %q", req.Op, req.Table)
	if err := c.call(ctx, op, "/api/v1/db/write", req, &res, false); err != nil {
		return res, err
	}
	c.Observe(res.Seq)
	return res, nil
}

// Read sends one read. Unless req.MinSeq is set or read-your-writes is off,
// it carries the client's seq as min_seq. Row numbers are int64, text is string.
func (c *Client) Read(ctx context.Context, req dbapi.ReadRequest) (dbapi.ReadResult, error) {
	if c.readYourWrites && req.MinSeq < c.Seq() {
		req.MinSeq = c.Seq()
	}
	var res dbapi.ReadResult
	op := fmt.Sprintf("db read of %q", req.Table)
	if err := c.call(ctx, op, "/api/v1/db/read", req, &res, true); err != nil {
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
	if err := c.call(ctx, "db clear", "/api/v1/db/clear", struct{}{}, &res, false); err != nil {
		return res, err
	}
	c.Observe(res.Seq)
	return res, nil
}

// DeleteAll deletes every row of one table: an ordinary delete with no where.
func (c *Client) DeleteAll(ctx context.Context, table string) (dbapi.WriteResult, error) {
	return c.Write(ctx, dbapi.WriteRequest{Table: table, Op: dbapi.OpDelete})
}
