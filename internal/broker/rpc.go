package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrUnavailable means the broker cannot take the request now (503).
var ErrUnavailable = errors.New("message broker unavailable")

// errRefused: the broker answered a publish with a negative confirm, or left
// a write unconfirmed on a connection that answers nothing else (await).
var errRefused = fmt.Errorf("refused by the broker: %w", ErrUnavailable)

// refusedPause is the pause before a refused call is sent again on a fresh
// connection (see Call).
const refusedPause = 250 * time.Millisecond

// lostNoticeWait is how long a failed call waits for its connection's close
// notice before it takes the failure as the call's own.
const lostNoticeWait = 200 * time.Millisecond

// ErrTimeout means no worker answered in time (504).
var ErrTimeout = errors.New("no worker answered in time")

// DefaultPublishChannels is how many channels an RPC client publishes on. A
// channel serializes its publishes (one frame sequence at a time, one confirm
// counter), so under many concurrent callers one channel is a queue of its
// own; a few spread the work over the broker's per-channel processes.
const DefaultPublishChannels = 4

// RPC sends requests to readQ or writeQ and waits for the reply on its reply
// queue, matched by correlation id. It is safe for concurrent use and
// reconnects by itself when the broker connection drops (to the next node of
// a cluster, see Dial). A call made while there is no connection waits for
// the next one; a call whose connection is lost is sent again on the next
// one (see Call).
type RPC struct {
	url   string
	log   hclog.Logger
	opts  RPCOptions
	next  atomic.Uint64 // round-robin over the publish channels
	state atomic.Pointer[rpcConn]

	mu      sync.Mutex
	pending map[string]chan Answer
	closed  bool
	up      chan struct{} // closed while a connection is set (state != nil)

	coalMu sync.Mutex
	coal   map[string]*coalescer // by queue and expiration
}

// RPCOptions configure an RPC client.
type RPCOptions struct {
	// ReplyQueue is where workers answer (default ResponseQ). Any other name
	// is declared exclusive to this client, so that a second client on the
	// same broker (a benchmark, another orchestrator) never takes its replies.
	ReplyQueue string
	// Channels is how many channels requests are published on (default
	// DefaultPublishChannels).
	Channels int
	// MaxCoalesce bounds the requests one coalesced message carries
	// (default DefaultMaxCoalesce; see CallOptions.Coalesce).
	MaxCoalesce int
	// Topology is how the deployment declares its queues: the fixed reply
	// queue ResponseQ is declared with its request type.
	Topology Topology
	// DeclareShared declares the shared queues before any publish: on the
	// first connection with Topology.Declare, on later ones without waiting
	// (Topology.Redeclare). The orchestrator does (docs/architecture.md,
	// "Queues").
	DeclareShared bool
	// UnconfirmedWait is how long a write's publish may go without a
	// confirm (or an answer) while no other call to its queue is answered
	// on the connection, before it is sent again on a new connection
	// (default DefaultUnconfirmedWait).
	UnconfirmedWait time.Duration
	// OnNotice receives each notice (Tell) that comes to the reply queue:
	// its kind and body. It runs on the reply consumer: it must not block.
	// Nil drops notices.
	OnNotice func(kind string, body []byte)
}

// DefaultUnconfirmedWait: RabbitMQ confirms a persistent message within
// milliseconds, or a few hundred under a loaded disk; a second without one,
// while nothing else on the queue is answered either, is a stuck channel.
const DefaultUnconfirmedWait = time.Second

func (o RPCOptions) unconfirmedWait() time.Duration {
	return cmp.Or(o.UnconfirmedWait, DefaultUnconfirmedWait)
}

// CallOptions tune one call.
type CallOptions struct {
	// Persistent marks the message persistent and publishes it with a
	// publisher confirm: a message the broker refuses (nack) fails the call
	// at once with ErrUnavailable. Writes use it so that a write the broker
	// took survives a broker restart. Other calls (reads) are published
	// without confirms, which cost the broker a frame per message: a lost
	// read ends in ErrTimeout.
	Persistent bool
	// Expiration drops the request from its queue if no worker took it in
	// time: used for reads, which are worthless once the caller gave up.
	Expiration time.Duration
	// Coalesce sends the request together with the others that are waiting
	// to go to the same queue, in one message (RequestsHeader): reads use
	// it. Not with Persistent or MessageID.
	Coalesce bool
	// MessageID is the write id the master records (default: the call's
	// correlation id). Two calls with the same one are one write delivered
	// twice: it takes effect once and both hear the same answer.
	MessageID string
	// Kind marks a request that is not a write or a read (AMQP type): an
	// order to the master, such as KindSwitchover. Not with Coalesce.
	Kind string
}

// Answer is a worker's reply as the orchestrator relays it: the HTTP status
// and the JSON body, passed on untouched.
type Answer struct {
	Status int
	Body   []byte
}

// NewRPC connects and starts consuming the reply queue.
func NewRPC(ctx context.Context, url string, opts RPCOptions, log hclog.Logger) (*RPC, error) {
	if opts.ReplyQueue == "" {
		opts.ReplyQueue = ResponseQ
	}
	if opts.Channels <= 0 {
		opts.Channels = DefaultPublishChannels
	}
	if opts.MaxCoalesce <= 0 {
		opts.MaxCoalesce = DefaultMaxCoalesce
	}
	r := &RPC{url: url, log: log, opts: opts, pending: map[string]chan Answer{}, up: make(chan struct{})}
	r.coal = map[string]*coalescer{}
	if err := r.connect(ctx, false); err != nil {
		return nil, err
	}
	return r, nil
}

// Call publishes body to queue with correlation (and message) id id and
// waits for the reply until ctx is done (ErrTimeout).
//
// A call does not wait for the publisher confirm before it waits for the
// reply: a reply proves the worker had the message. The confirm only ends the
// call early when the broker refuses the message (ErrUnavailable). No write
// is acknowledged on the strength of the confirm: the master answers only
// once the write is in the replication log.
//
// While there is no connection, the call waits for the next one (until ctx
// is done: ErrUnavailable). When the connection is lost before the answer
// came, the call is sent again, with the same ids, on the next connection:
// a broker node that died takes its connections, and the replies queued on
// it, but a write it had taken is in a replicated writeQ (quorum), or in the
// log, and the master answers a write id it has seen with the same answer
// again. A call the broker refuses (a negative confirm) is sent again in
// the same way on a new connection, after refusedPause, and so is a write
// left unconfirmed for UnconfirmedWait while nothing else on its queue is
// answered. An order (Kind) is not sent again.
func (r *RPC) Call(ctx context.Context, queue, id string, body []byte, opt CallOptions) (Answer, error) {
	wait := make(chan Answer, 1)
	r.mu.Lock()
	r.pending[id] = wait
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
	}()
	for {
		st, err := r.current(ctx)
		if err != nil {
			return Answer{}, fmt.Errorf("request %s on %s: %w", id, queue, err)
		}
		sent := time.Now()
		ans, err := r.callOn(ctx, st, queue, id, body, opt, wait)
		if err == nil {
			st.markAnswered(queue)
		}
		if errors.Is(err, ErrTimeout) && !st.answeredSince(queue, sent) {
			// Not one call to this queue was answered on this connection
			// for as long as the call waited. After a quorum queue's leader
			// died, RabbitMQ 3.10 may drop every message that a channel
			// opened before the new leader was known sends without a
			// confirm (reads), while the writes on the same connection are
			// answered: the next calls go out on a new connection.
			r.log.Warn("no call to this queue answered on this connection for the whole call; reconnecting", "queue", queue, "waited", time.Since(sent))
			st.replace()
		}
		if err == nil || opt.Kind != "" || ctx.Err() != nil {
			return ans, err
		}
		if errors.Is(err, errRefused) {
			// Seen on RabbitMQ 3.10 when the node leading a quorum queue
			// died: a channel opened before the new leader was known has
			// every publish to that queue refused, for good. A new
			// connection (to the next node) learns the new leader.
			r.log.Warn("broker refused a request; reconnecting before sending it again", "id", id, "queue", queue, "error", err)
			st.replace()
			select {
			case <-time.After(refusedPause):
			case <-ctx.Done():
				return ans, err
			}
			continue
		}
		// A publish on a channel the lost connection took fails a moment
		// before the connection's close notice arrives.
		select {
		case <-st.lost:
			r.log.Debug("connection lost during a call; sending it again on the next", "id", id, "queue", queue)
		case <-time.After(lostNoticeWait):
			return ans, err
		}
	}
}

// callOn is one attempt of Call on the connection st.
func (r *RPC) callOn(ctx context.Context, st *rpcConn, queue, id string, body []byte, opt CallOptions, wait <-chan Answer) (Answer, error) {
	if opt.Coalesce && !opt.Persistent && opt.MessageID == "" && opt.Kind == "" {
		x := &coalesced{id: id, body: body, sent: make(chan struct{})}
		r.coalescerFor(queue, opt.Expiration).submit(x)
		return r.await(ctx, st, queue, id, wait, x.sent, 0, func() error { return x.err })
	}
	msg := amqp.Publishing{
		ContentType:   "application/json",
		CorrelationId: id,
		MessageId:     cmp.Or(opt.MessageID, id),
		ReplyTo:       r.opts.ReplyQueue,
		Type:          opt.Kind,
		Body:          body,
	}
	if opt.Expiration > 0 {
		msg.Expiration = strconv.FormatInt(opt.Expiration.Milliseconds(), 10)
	}
	n := r.next.Add(1)
	if !opt.Persistent {
		if err := st.plain[n%uint64(len(st.plain))].PublishWithContext(ctx, "", queue, false, false, msg); err != nil {
			return Answer{}, fmt.Errorf("publish %s to %s: %w: %w", id, queue, ErrUnavailable, err)
		}
		return r.await(ctx, st, queue, id, wait, nil, 0, nil)
	}
	msg.DeliveryMode = amqp.Persistent
	conf, err := st.pubs[n%uint64(len(st.pubs))].PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, msg)
	if err != nil {
		return Answer{}, fmt.Errorf("publish %s to %s: %w: %w", id, queue, ErrUnavailable, err)
	}
	var stuckAfter time.Duration
	if opt.Kind == "" { // an order is not sent again (Call)
		stuckAfter = r.opts.unconfirmedWait()
	}
	return r.await(ctx, st, queue, id, wait, conf.Done(), stuckAfter, func() error {
		if !conf.Acked() {
			return fmt.Errorf("broker refused %s on %s: %w", id, queue, errRefused)
		}
		return nil
	})
}

// await waits for the answer to call id. sent, when not nil, is closed once
// the broker's verdict on the request is known (a publisher confirm, or a
// coalesced publish done), and failed then says whether it refused it: a
// refusal ends the call at once; otherwise the answer alone is awaited.
//
// A verdict still missing after stuckAfter (> 0: a write's confirm), while
// no other call to the queue was answered on this connection meanwhile,
// counts as a refusal, so that Call sends it again on a new connection: in
// the cluster test, after the node leading writeQ (quorum) was killed, a
// channel opened before its new leader was known had its publishes held for
// 7 s and then refused, while a new connection was served at once.
func (r *RPC) await(ctx context.Context, st *rpcConn, queue, id string, wait <-chan Answer, sent <-chan struct{}, stuckAfter time.Duration, failed func() error) (Answer, error) {
	published := time.Now()
	var unconfirmed <-chan time.Time
	if sent != nil && stuckAfter > 0 {
		t := time.NewTimer(stuckAfter)
		defer t.Stop()
		unconfirmed = t.C
	}
	for {
		select {
		case a := <-wait:
			return a, nil
		case <-sent:
			if err := failed(); err != nil {
				return Answer{}, fmt.Errorf("request %s: %w", id, err)
			}
			sent, unconfirmed = nil, nil // taken by the broker: wait for the answer alone
		case <-unconfirmed:
			unconfirmed = nil
			if !st.answeredSince(queue, published) {
				return Answer{}, fmt.Errorf("request %s on %s: no confirm in %s: %w", id, queue, stuckAfter, errRefused)
			}
		case <-st.lost:
			return Answer{}, fmt.Errorf("request %s on %s: connection lost: %w", id, queue, ErrUnavailable)
		case <-ctx.Done():
			return Answer{}, fmt.Errorf("request %s on %s: %w", id, queue, ErrTimeout)
		}
	}
}

// Tell publishes a notice of kind (the message's AMQP type) to queue,
// another client's reply queue: no answer is awaited and no confirm, so a
// notice may be lost with a connection or a queue that is gone. The other
// client's OnNotice gets it.
func (r *RPC) Tell(ctx context.Context, queue, kind string, body []byte) error {
	if kind == "" {
		return fmt.Errorf("tell %s: a notice needs a kind", queue)
	}
	st, err := r.current(ctx)
	if err != nil {
		return fmt.Errorf("tell %s %s: %w", kind, queue, err)
	}
	msg := amqp.Publishing{ContentType: "application/json", Type: kind, Body: body}
	n := r.next.Add(1)
	if err := st.plain[n%uint64(len(st.plain))].PublishWithContext(ctx, "", queue, false, false, msg); err != nil {
		return fmt.Errorf("tell %s %s: %w: %w", kind, queue, ErrUnavailable, err)
	}
	return nil
}

// Close stops the client.
func (r *RPC) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if st := r.state.Load(); st != nil {
		return st.conn.Close()
	}
	return nil
}
