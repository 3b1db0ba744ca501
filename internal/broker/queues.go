// Package broker is the RabbitMQ side of the DBaaS, both ends of it: the
// fixed queue names and their declarations, the orchestrator's RPC client,
// and the worker's connection (Conn: the replication log it appends to and
// follows, the writeQ and readQ consumers, its replies), so that the worker
// itself handles no AMQP type.
package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Queue names are fixed (docs/architecture.md, "Queues").
const (
	ReadQ     = "readQ"
	WriteQ    = "writeQ"
	SyncQ     = "syncQ"
	ResponseQ = "responseQ"
)

// Defaults of LogRetention. The bound must hold more than the log written
// between two snapshots: the snapshotting replica takes one whenever a
// quarter of MaxBytes has been written since the last (see worker).
const (
	DefaultLogMaxBytes     = 512 << 20
	DefaultLogSegmentBytes = 32 << 20
)

// LogRetention bounds the replication log (syncQ). RabbitMQ drops a stream's
// oldest segments once the stream is over MaxBytes or they are older than
// MaxAge, so the log on disk stays under about MaxBytes + SegmentBytes.
// Every process declares syncQ with the same retention: RabbitMQ refuses a
// declaration whose arguments differ from the queue's.
type LogRetention struct {
	// MaxBytes is x-max-length-bytes (0: DefaultLogMaxBytes; -1: unbounded).
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// MaxAge is x-max-age (0: no age limit).
	MaxAge time.Duration `json:"max_age,omitempty"`
	// SegmentBytes is x-stream-max-segment-size-bytes, the grain in which
	// the log is dropped (0: DefaultLogSegmentBytes).
	SegmentBytes int64 `json:"segment_bytes,omitempty"`
}

// Bound is MaxBytes with its default; 0 means unbounded.
func (r LogRetention) Bound() int64 {
	switch {
	case r.MaxBytes < 0:
		return 0
	case r.MaxBytes == 0:
		return DefaultLogMaxBytes
	}
	return r.MaxBytes
}

// Segment is SegmentBytes with its default.
func (r LogRetention) Segment() int64 {
	if r.SegmentBytes <= 0 {
		return DefaultLogSegmentBytes
	}
	return r.SegmentBytes
}

// args are syncQ's declaration arguments.
func (r LogRetention) args() amqp.Table {
	t := amqp.Table{"x-queue-type": "stream"}
	if b := r.Bound(); b > 0 {
		t["x-max-length-bytes"] = b
	}
	t["x-stream-max-segment-size-bytes"] = r.Segment()
	if r.MaxAge > 0 {
		t["x-max-age"] = fmt.Sprintf("%ds", max(int64(r.MaxAge/time.Second), 1))
	}
	return t
}

// QueueType is the kind of queue writeQ, readQ and the fixed responseQ are
// declared as.
type QueueType string

// Queue types. A classic queue lives on one node: the fastest on a single
// broker, and gone with its node in a cluster. A quorum queue is replicated
// over the cluster's nodes by Raft and survives the loss of a minority.
const (
	QueueClassic QueueType = "classic"
	QueueQuorum  QueueType = "quorum"
	// DefaultQueueType is the type a deployment that names none uses: on one
	// broker, classic queues carry writes faster (docs/operations.md gives
	// the figures).
	DefaultQueueType = QueueClassic
)

// ParseQueueType checks a queue type named in a deployment ("" is the
// default).
func ParseQueueType(s string) (QueueType, error) {
	switch t := QueueType(s); t {
	case "":
		return DefaultQueueType, nil
	case QueueClassic, QueueQuorum:
		return t, nil
	}
	return "", fmt.Errorf("queue type %q is not %q or %q", s, QueueClassic, QueueQuorum)
}

// args are the declaration arguments of a request queue of this type.
func (t QueueType) args() amqp.Table {
	if t == QueueQuorum {
		return amqp.Table{"x-queue-type": string(QueueQuorum)}
	}
	return nil
}

// Topology is how a deployment declares its queues: the request queues'
// type and the replication log's retention. Every process declares with the
// same Topology: RabbitMQ refuses a declaration whose arguments differ from
// the queue's.
type Topology struct {
	// Requests is the type of writeQ, readQ and responseQ ("": the default).
	Requests QueueType `json:"queue_type,omitempty"`
	// Log is syncQ's retention.
	Log LogRetention `json:"sync_log"`
}

// requests is Requests with its default.
func (t Topology) requests() QueueType {
	if t.Requests == "" {
		return DefaultQueueType
	}
	return t.Requests
}

// Declare declares the shared queues: writeQ and readQ, durable, of the
// request type, and syncQ, a stream bounded by the log's retention (which
// lets each replica read it from its own offset; in a cluster RabbitMQ
// replicates it over the nodes). It is idempotent and every process calls
// it, so whichever starts first creates them. responseQ is not among them:
// the client that consumes it declares it (DeclareReplies), so that no
// process depends on a reply queue it does not use.
func (t Topology) Declare(ch *amqp.Channel) error {
	for _, q := range t.shared() {
		if err := declare(ch, q.name, q.args); err != nil {
			return err
		}
	}
	return nil
}

// Redeclare declares the shared queues again on a new connection without
// waiting for the broker's answers (no-wait): a queue the broker lost is
// created again, but a reconnect never waits on a declaration. In a cluster
// a declaration of a quorum queue or stream whose leader or replica is
// moving waits for the move (7 s measured after a node's kill) while the
// queue itself serves. Declare checked the arguments when the process
// started; a declaration the broker refuses now closes ch alone, which is
// why ch is the caller's to give up, not to close (a close would wait behind
// the declarations).
func (t Topology) Redeclare(ch *amqp.Channel) error {
	for _, q := range t.shared() {
		if _, err := ch.QueueDeclare(q.name, true, false, false, true, q.args); err != nil {
			if errors.Is(err, amqp.ErrClosed) {
				// The broker refused an earlier declaration and closed ch: the
				// rest cannot go out on it, and that is no reason to give up the
				// connection (a lost connection fails the caller's next step).
				return nil
			}
			return fmt.Errorf("declare queue %s: %w", q.name, err)
		}
	}
	return nil
}

// declareOn declares the shared queues on a channel of their own on conn:
// the first time a process connects (again false) with Declare, which waits
// and explains a refusal, closing the channel after; on later connections
// with Redeclare, leaving the channel open (see there).
func (t Topology) declareOn(conn *amqp.Connection, again bool) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if again {
		return t.Redeclare(ch)
	}
	defer ch.Close()
	return t.Declare(ch)
}

type queueDecl struct {
	name string
	args amqp.Table
}

// shared are the queues every process declares, with their arguments.
func (t Topology) shared() []queueDecl {
	return []queueDecl{
		{ReadQ, t.requests().args()},
		{WriteQ, t.requests().args()},
		{SyncQ, t.Log.args()},
	}
}

// DeclareReplies declares the fixed reply queue responseQ, durable, of the
// request type.
func (t Topology) DeclareReplies(ch *amqp.Channel) error {
	return declare(ch, ResponseQ, t.requests().args())
}

// declare declares one durable queue, and explains the refusal of a queue
// that exists with other arguments.
func declare(ch *amqp.Channel, name string, args amqp.Table) error {
	_, err := ch.QueueDeclare(name, true, false, false, false, args)
	var ae *amqp.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed && name == SyncQ:
		return fmt.Errorf("declare queue %s with retention %v: %w (the queue exists with other arguments: "+
			"every process of a deployment must use the same sync_log settings; to change them, start on a fresh vhost "+
			"and restore a backup into it, see docs/operations.md)", name, args, err)
	case errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed:
		return fmt.Errorf("declare queue %s with arguments %v: %w (the queue exists with another type: "+
			"every process of a deployment must use the same amqp_queue_type; to change it, start on a fresh vhost "+
			"and restore a backup into it, see docs/operations.md)", name, args, err)
	}
	return fmt.Errorf("declare queue %s: %w", name, err)
}

// Reset deletes the four fixed queues (docs/architecture.md, "Queues") so a
// fresh deployment (or a test) starts from an empty log. It must not be
// called while workers run.
func Reset(ctx context.Context, url string) error {
	return DeleteQueues(ctx, url, ReadQ, WriteQ, SyncQ, ResponseQ)
}

// DeleteQueues deletes the named queues (snapshot queues, the fixed ones);
// a queue already gone is not an error.
func DeleteQueues(ctx context.Context, url string, names ...string) error {
	conn, err := Dial(ctx, url, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	return deleteQueues(conn, names...)
}

// deleteQueues deletes the named queues on conn; RabbitMQ answers a delete
// of a queue that is not there with success.
func deleteQueues(conn *amqp.Connection, names ...string) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	for _, q := range names {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete queue %s: %w", q, err)
		}
	}
	return nil
}

// redact hides the password of an AMQP URL in messages.
func redact(url string) string {
	u, err := amqp.ParseURI(url)
	if err != nil {
		return "(unparsable amqp url)"
	}
	if u.Password != "" {
		u.Password = "xxx"
	}
	return u.String()
}
