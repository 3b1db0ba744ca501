package broker

// An RPC client's connection: how it is made (dial, declare, open the
// channels and the reply consumer), how replies reach their calls, and how
// it is replaced when the broker drops or stops serving it. The call path
// is rpc.go.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// slowConnectStep: a step of a (re)connect that takes this long is logged.
const slowConnectStep = time.Second

// rpcConn is one connection's channels; replaced whole on reconnect.
type rpcConn struct {
	conn  *amqp.Connection
	pubs  []*amqp.Channel // confirm mode: persistent calls (writes)
	plain []*amqp.Channel // no confirms: the others (reads)
	lost  chan struct{}   // closed when the connection is gone
	// answered holds, per request queue, when a call to it last got its
	// answer while this connection was current (unix nanoseconds): a
	// connection whose writes are answered may still drop every read.
	answered sync.Map // queue name → *atomic.Int64
}

// replace closes the connection so that calls go out on the next one (the
// close notice redials). It waits at most closeWait for the broker's
// close-ok: a connection is replaced because the broker stopped serving it,
// and may not answer that either.
func (c *rpcConn) replace() { _ = c.conn.CloseDeadline(time.Now().Add(closeWait)) }

// closeWait bounds a deliberate close's wait for the broker (rpcConn.replace).
const closeWait = 500 * time.Millisecond

// markAnswered records that a call to queue was just answered.
func (c *rpcConn) markAnswered(queue string) {
	v, _ := c.answered.LoadOrStore(queue, new(atomic.Int64))
	v.(*atomic.Int64).Store(time.Now().UnixNano())
}

// answeredSince reports whether a call to queue was answered at or after t.
func (c *rpcConn) answeredSince(queue string, t time.Time) bool {
	v, ok := c.answered.Load(queue)
	return ok && v.(*atomic.Int64).Load() >= t.UnixNano()
}

// connect makes the connection calls go out on; again: not the first, so
// the shared queues are declared without waiting (Topology.Redeclare).
func (r *RPC) connect(ctx context.Context, again bool) error {
	// A step that takes long is said: a reconnect is a write stall, and
	// which step held it (the dial, or a declaration waiting for a quorum
	// queue's new leader) is what an operator needs to know.
	slow := func(what string, began time.Time) {
		if d := time.Since(began); d >= slowConnectStep {
			r.log.Warn("slow step connecting to the broker", "step", what, "took", d)
		}
	}
	began := time.Now()
	conn, err := Dial(ctx, r.url, 0)
	slow("dial", began)
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		conn.Close()
		return fmt.Errorf("%s: %w", what, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open channel", err)
	}
	if r.opts.DeclareShared {
		began = time.Now()
		err := r.opts.Topology.declareOn(conn, again)
		slow("declare the shared queues", began)
		if err != nil {
			return fail("declare queues", err)
		}
	}
	began = time.Now()
	defer slow("declare and consume the reply queue", began)
	if r.opts.ReplyQueue == ResponseQ {
		err = r.opts.Topology.DeclareReplies(ch)
	} else {
		// Exclusive: it lives on the node this connection is to, and goes
		// with the connection; a reconnect declares it again on the next.
		_, err = ch.QueueDeclare(r.opts.ReplyQueue, false, true, true, false, nil)
	}
	if err != nil {
		return fail("declare reply queue "+r.opts.ReplyQueue, err)
	}
	replies, err := ch.Consume(r.opts.ReplyQueue, "", true, false, false, false, nil)
	if err != nil {
		return fail("consume "+r.opts.ReplyQueue, err)
	}
	st := &rpcConn{conn: conn, lost: make(chan struct{})}
	for i := 0; i < 2*r.opts.Channels; i++ {
		pc, err := conn.Channel()
		if err != nil {
			return fail("open publish channel", err)
		}
		if i%2 == 1 {
			st.plain = append(st.plain, pc)
			continue
		}
		if err := pc.Confirm(false); err != nil {
			return fail("enable publisher confirms", err)
		}
		st.pubs = append(st.pubs, pc)
	}
	r.mu.Lock()
	r.state.Store(st)
	select {
	case <-r.up:
	default:
		close(r.up)
	}
	r.mu.Unlock()
	go r.dispatch(st, replies)
	go r.redialOnClose(st, conn.NotifyClose(make(chan *amqp.Error, 1)))
	return nil
}

// dispatch hands each reply to the call waiting for its correlation id; a
// reply nobody waits for (the caller timed out) is dropped. When the reply
// consumer ends while the connection lives on (the reply queue was deleted),
// it closes the connection, so the client reconnects and declares it again
// instead of waiting for replies that can no longer come.
func (r *RPC) dispatch(st *rpcConn, replies <-chan amqp.Delivery) {
	conn := st.conn
	for d := range replies {
		if d.Type != "" { // answers have no type: a notice (Tell)
			if r.opts.OnNotice != nil {
				r.opts.OnNotice(d.Type, d.Body)
			}
			continue
		}
		answers, err := Answers(d)
		if err != nil {
			r.log.Error("unreadable reply dropped", "error", err)
			continue
		}
		r.mu.Lock()
		for id, a := range answers {
			if wait, ok := r.pending[id]; ok {
				delete(r.pending, id)
				wait <- a
			}
		}
		r.mu.Unlock()
	}
	if !conn.IsClosed() {
		r.log.Warn("reply consumer on " + r.opts.ReplyQueue + " was cancelled; reconnecting")
		st.replace()
	}
}

func (r *RPC) redialOnClose(st *rpcConn, closed <-chan *amqp.Error) {
	err := <-closed
	r.mu.Lock()
	if r.state.CompareAndSwap(st, nil) {
		r.up = make(chan struct{})
	}
	done := r.closed
	r.mu.Unlock()
	close(st.lost) // calls in flight on it can get no reply now: they go again on the next
	if done {
		return
	}
	r.log.Warn("broker connection lost; reconnecting", "error", err)
	lostAt := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.connect(ctx, true)
		cancel()
		if err == nil {
			r.log.Info("broker connection restored", "after", time.Since(lostAt).Round(time.Millisecond))
			return
		}
		r.mu.Lock()
		done := r.closed
		r.mu.Unlock()
		if done {
			return
		}
		r.log.Error("reconnect to broker failed", "error", err)
	}
}

// current is the connection calls go out on, waiting for one while there is
// none until ctx is done (ErrUnavailable).
func (r *RPC) current(ctx context.Context) (*rpcConn, error) {
	for {
		if st := r.state.Load(); st != nil {
			return st, nil
		}
		r.mu.Lock()
		up, closed := r.up, r.closed
		r.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("client closed: %w", ErrUnavailable)
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, fmt.Errorf("no broker connection: %w", ErrUnavailable)
		}
	}
}
