package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/replog"
)

// Conn is a worker's broker connection: the replication log (syncQ) it
// appends to and follows, the request queues (writeQ, readQ) it consumes,
// and the channel its replies go out on. The worker sees no AMQP type: what
// it takes from the broker arrives as a Delivery or a LogMessage, each with
// its ack.
type Conn struct {
	conn    *amqp.Connection
	replies *Replier
}

// Connect dials url (retrying until ctx is done, see Dial), declares the
// shared queues as topo says and opens the reply channel.
func Connect(ctx context.Context, url string, heartbeat time.Duration, topo Topology) (*Conn, error) {
	return connect(ctx, url, heartbeat, topo, false)
}

// Reconnect is Connect for a process that has been connected before: it
// declares the shared queues without waiting for them (Topology.Redeclare).
func Reconnect(ctx context.Context, url string, heartbeat time.Duration, topo Topology) (*Conn, error) {
	return connect(ctx, url, heartbeat, topo, true)
}

func connect(ctx context.Context, url string, heartbeat time.Duration, topo Topology, again bool) (*Conn, error) {
	conn, err := Dial(ctx, url, heartbeat)
	if err != nil {
		return nil, err
	}
	if err := topo.declareOn(conn, again); err != nil {
		conn.Close()
		return nil, err
	}
	reply, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open reply channel: %w", err)
	}
	return &Conn{conn: conn, replies: &Replier{ch: reply}}, nil
}

// Close closes the connection and everything opened on it.
func (c *Conn) Close() error { return c.conn.Close() }

// IsClosed says whether the connection has closed.
func (c *Conn) IsClosed() bool { return c.conn.IsClosed() }

// Closed returns a channel that gets the reason the connection closed (nil
// for a close the process asked for) and is closed then (amqp NotifyClose).
func (c *Conn) Closed() <-chan error {
	in := c.conn.NotifyClose(make(chan *amqp.Error, 1))
	out := make(chan error, 1)
	go func() {
		defer close(out)
		if e, ok := <-in; ok && e != nil {
			out <- e
		}
	}()
	return out
}

// Replies is where this connection's answers to the orchestrator go.
func (c *Conn) Replies() *Replier { return c.replies }

// Replier sends answers to reply queues on one channel.
type Replier struct {
	mu sync.Mutex
	ch *amqp.Channel
}

// ReplyAll sends answers to the reply queue replyTo in one message (one
// answer alone goes as a plain reply; see the package function ReplyAll).
func (r *Replier) ReplyAll(ctx context.Context, replyTo string, answers []Addressed) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReplyAll(ctx, r.ch, replyTo, answers)
}

// Acker acknowledges a delivery; multiple acknowledges every earlier
// delivery of its consumer too. amqp091's Delivery is one.
type Acker interface {
	Ack(multiple bool) error
	// Nack with requeue puts the message back in its queue, for whoever
	// consumes it next.
	Nack(multiple, requeue bool) error
}

// Delivery is one message taken from writeQ or readQ.
type Delivery struct {
	Body          []byte
	MessageID     string
	CorrelationID string
	ReplyTo       string
	// Many: the message carries several requests (RequestsHeader).
	Many bool
	// Kind is "" for a write or a read, else what order the message is
	// (KindSwitchover).
	Kind string
	Acker
}

// Requests are the requests the delivery carries: several when it has the
// RequestsHeader, else the delivery itself.
func (d Delivery) Requests() ([]Request, error) {
	if !d.Many {
		return []Request{{CorrelationID: d.CorrelationID, Body: d.Body}}, nil
	}
	var rs []Request
	if err := json.Unmarshal(d.Body, &rs); err != nil {
		return nil, fmt.Errorf("decode a message of requests: %w", err)
	}
	return rs, nil
}

func deliveryOf(d amqp.Delivery) Delivery {
	_, many := d.Headers[RequestsHeader]
	return Delivery{Body: d.Body, MessageID: d.MessageId, CorrelationID: d.CorrelationId, ReplyTo: d.ReplyTo, Many: many, Kind: d.Type, Acker: d}
}

// Consumer consumes writeQ or readQ with manual acks.
type Consumer struct {
	ch   *amqp.Channel
	tag  string
	out  <-chan Delivery
	stop context.CancelFunc
}

// ConsumeWrites consumes writeQ with the consumer tag tag, at most prefetch
// unacked deliveries at once.
func (c *Conn) ConsumeWrites(ctx context.Context, tag string, prefetch int) (*Consumer, error) {
	return c.consume(ctx, WriteQ, "write", tag, prefetch)
}

// ConsumeReads consumes readQ as ConsumeWrites does writeQ.
func (c *Conn) ConsumeReads(ctx context.Context, tag string, prefetch int) (*Consumer, error) {
	return c.consume(ctx, ReadQ, "read", tag, prefetch)
}

func (c *Conn) consume(ctx context.Context, queue, what, tag string, prefetch int) (*Consumer, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open %s channel: %w", what, err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("set %s prefetch: %w", what, err)
	}
	ds, err := ch.Consume(queue, tag, false, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("consume %s: %w", queue, err)
	}
	ctx, stop := context.WithCancel(ctx)
	return &Consumer{ch: ch, tag: tag, out: pump(ctx.Done(), ds, prefetch, deliveryOf), stop: stop}, nil
}

// Deliveries yields the deliveries; it is closed when the consumer ends
// (cancelled, closed, its connection closed, or the broker ended it) or the
// context it was opened with is done.
func (c *Consumer) Deliveries() <-chan Delivery { return c.out }

// Cancel stops the deliveries; those already handed over stay to be acked.
func (c *Consumer) Cancel() error { return c.ch.Cancel(c.tag, false) }

// Close closes the consumer's channel: what it did not ack goes back to
// the queue.
func (c *Consumer) Close() error {
	c.stop()
	return c.ch.Close()
}

// pump moves deliveries, converted, into a channel that holds up to n of
// them. The client library hands deliveries over one at a time through an
// unbuffered channel, so a loop that drains "whatever is waiting" right
// after a receive finds nothing and every batch has one message; the pump
// keeps up to n ready while the batch before is being handled. It ends when
// ds is closed or done is.
func pump[T any](done <-chan struct{}, ds <-chan amqp.Delivery, n int, conv func(amqp.Delivery) T) <-chan T {
	out := make(chan T, max(n, 1))
	go func() {
		defer close(out)
		for d := range ds {
			select {
			case out <- conv(d):
			case <-done:
				return
			}
		}
	}()
	return out
}

// Log appends to the replication log on a channel in confirm mode.
type Log struct {
	ch *amqp.Channel
}

// OpenLog opens a channel to append to the log.
func (c *Conn) OpenLog() (*Log, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open log channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("confirm mode on log channel: %w", err)
	}
	return &Log{ch: ch}, nil
}

// Append appends entries as one message and waits for its confirm (see
// Publish).
func (l *Log) Append(ctx context.Context, entries ...replog.Entry) error {
	return Publish(ctx, l.ch, entries...)
}

// Mark appends a mark entry with nonce: a worker that reads it back has
// read the log up to now.
func (l *Log) Mark(ctx context.Context, nonce string) error {
	return l.Append(ctx, replog.Entry{Kind: replog.EntryMark, Nonce: nonce})
}

// Close closes the log's channel.
func (l *Log) Close() error { return l.ch.Close() }

// LogMessage is one message read from the log: its entries, in order, and
// its stream offset. Err says it could not be read (Offset is still set
// when the message had one); every replica skips such a message alike.
type LogMessage struct {
	Entries []replog.Entry
	Offset  int64
	Err     error
	Size    int // bytes of the message body
	Acker
}

func logMessageOf(d amqp.Delivery) LogMessage {
	entries, off, err := DecodeEntries(d)
	return LogMessage{Entries: entries, Offset: off, Err: err, Size: len(d.Body), Acker: d}
}

// LogReader follows the log from an offset.
type LogReader struct {
	ch   *amqp.Channel
	out  <-chan LogMessage
	stop context.CancelFunc
}

// FollowLog reads the log from offset (see Follow) on a channel of its own,
// with prefetch, decoding each message; the messages are kept ready (up to
// prefetch) until ctx is done.
func (c *Conn) FollowLog(ctx context.Context, offset int64, prefetch int) (*LogReader, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open log channel: %w", err)
	}
	ds, err := Follow(ctx, ch, offset, prefetch)
	if err != nil {
		ch.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	return &LogReader{ch: ch, out: pump(ctx.Done(), ds, prefetch, logMessageOf), stop: stop}, nil
}

// Messages yields the log's messages in order; it is closed when the
// consumer ends, the reader is closed or the context FollowLog was given is
// done.
func (r *LogReader) Messages() <-chan LogMessage { return r.out }

// Close closes the reader's channel.
func (r *LogReader) Close() error {
	r.stop()
	return r.ch.Close()
}

// LogTail is the package function LogTail on this connection.
func (c *Conn) LogTail(ctx context.Context, since time.Time) (int64, error) {
	return LogTail(ctx, c.conn, since)
}

// CreateSnapshot is the package function CreateSnapshot on this connection.
func (c *Conn) CreateSnapshot(ctx context.Context, queue string) (*SnapshotWriter, error) {
	return CreateSnapshot(ctx, c.conn, queue)
}

// OpenSnapshot is the package function OpenSnapshot on this connection.
func (c *Conn) OpenSnapshot(ctx context.Context, queue string, want SnapshotSum, onRead func(int64)) (*SnapshotReader, error) {
	return OpenSnapshot(ctx, c.conn, queue, want, onRead)
}

// DeleteSnapshot is the package function DeleteSnapshot on this connection.
func (c *Conn) DeleteSnapshot(queue string) error { return DeleteSnapshot(c.conn, queue) }
