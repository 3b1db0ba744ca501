package broker

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RequestsHeader marks a message that carries several requests at once (a
// JSON array of Request); the worker answers them all in one message of
// answers (AnswersHeader). Under load this is group commit for reads: the
// broker, the orchestrator and the replica handle one message for many
// requests instead of one each, and a request that finds no other waiting
// goes alone, at once: nothing waits on a timer.
const RequestsHeader = "requests"

// DefaultMaxCoalesce bounds how many requests one message carries.
const DefaultMaxCoalesce = 64

// Request is one request of a message that carries several.
type Request struct {
	CorrelationID string          `json:"id"`
	Body          json.RawMessage `json:"body"`
}

// coalescer sends the coalesced calls to one queue with one expiration. It
// has no goroutine of its own: the caller that finds nobody publishing
// publishes, for itself and for every call queued behind it (combining), so
// a lone request goes out from its own goroutine with no hand-over, and under
// load the requests that gather while one message is being published go out
// together in the next.
type coalescer struct {
	r       *RPC
	queue   string
	exp     time.Duration
	ch      int // which plain publish channel
	in      chan *coalesced
	sending sync.Mutex // held by the caller publishing for all
}

// coalesced is one call waiting to be sent. sent is closed once its message
// was published, err set before that when the publish failed.
type coalesced struct {
	id   string
	body []byte
	sent chan struct{}
	err  error
}

// coalescerFor returns the coalescer of queue and expiration.
func (r *RPC) coalescerFor(queue string, exp time.Duration) *coalescer {
	key := queue + "/" + exp.String()
	r.coalMu.Lock()
	defer r.coalMu.Unlock()
	if c, ok := r.coal[key]; ok {
		return c
	}
	c := &coalescer{r: r, queue: queue, exp: exp, ch: len(r.coal), in: make(chan *coalesced, 4096)}
	r.coal[key] = c
	return c
}

// submit queues x and, unless another caller is publishing now, publishes
// everything queued. Nothing is left behind: a call queued while the
// publisher still held the lock is seen by the publisher's check after it
// unlocks (the queueing happened before the failed TryLock, so before the
// unlock), and it publishes again.
func (c *coalescer) submit(x *coalesced) {
	c.in <- x // buffered; a full queue waits for the publisher to drain it
	for c.sending.TryLock() {
		c.drain()
		c.sending.Unlock()
		if len(c.in) == 0 {
			return
		}
	}
}

// drain publishes the queued calls, up to the bound per message, until none
// is left. The caller holds c.sending.
func (c *coalescer) drain() {
	batch := make([]*coalesced, 0, 8)
	for {
		batch = batch[:0]
	more:
		for len(batch) < c.r.opts.MaxCoalesce {
			select {
			case x := <-c.in:
				batch = append(batch, x)
			default:
				break more
			}
		}
		if len(batch) == 0 {
			return
		}
		err := c.publish(c.ch, batch)
		for _, x := range batch {
			x.err = err
			close(x.sent)
		}
	}
}

func (c *coalescer) publish(i int, batch []*coalesced) error {
	st := c.r.state.Load()
	if st == nil {
		return ErrUnavailable
	}
	msg := amqp.Publishing{ContentType: "application/json", ReplyTo: c.r.opts.ReplyQueue}
	if c.exp > 0 {
		msg.Expiration = strconv.FormatInt(c.exp.Milliseconds(), 10)
	}
	if len(batch) == 1 {
		msg.CorrelationId, msg.MessageId, msg.Body = batch[0].id, batch[0].id, batch[0].body
	} else {
		rs := make([]Request, len(batch))
		for j, x := range batch {
			rs[j] = Request{CorrelationID: x.id, Body: x.body}
		}
		body, err := json.Marshal(rs)
		if err != nil {
			return fmt.Errorf("encode %d requests to %s: %w", len(batch), c.queue, err)
		}
		msg.Headers = amqp.Table{RequestsHeader: int32(len(batch))}
		msg.Body = body
	}
	ch := st.plain[i%len(st.plain)]
	if err := ch.Publish("", c.queue, false, false, msg); err != nil {
		return fmt.Errorf("publish %d requests to %s: %w: %w", len(batch), c.queue, ErrUnavailable, err)
	}
	return nil
}
