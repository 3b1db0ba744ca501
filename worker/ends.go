package worker

import (
	"context"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/replog"
)

// What the worker takes from the broker, as small interfaces: the broker's
// types (broker.Log, broker.LogReader, broker.Consumer, broker.Replier)
// implement them on a RabbitMQ connection, and the tests stand a fake in
// for them to check the worker's rules without one. Every delivery carries
// its own ack (broker.Delivery, broker.LogMessage).

// logAppender appends to the replication log: a master's batches, epoch
// entries, and the marks a worker publishes to find the log's end.
type logAppender interface {
	// Append stores entries as one log message and returns once the broker
	// confirmed it; an error leaves it unknown whether they are in the log.
	Append(ctx context.Context, entries ...replog.Entry) error
	// Mark appends a mark entry with nonce.
	Mark(ctx context.Context, nonce string) error
	Close() error
}

// logStream is what a follower reads: the log's messages in order, from
// the offset it asked for, each to be acked.
type logStream interface {
	Messages() <-chan broker.LogMessage
	Close() error
}

// requestStream is what the master (writeQ) and a slave (readQ) consume.
type requestStream interface {
	Deliveries() <-chan broker.Delivery
	// Cancel stops new deliveries; those handed over stay to be acked.
	Cancel() error
	// Close gives back what was not acked.
	Close() error
}

// replier is where the answers to the orchestrator go: one message per
// reply queue for all the answers given.
type replier interface {
	ReplyAll(ctx context.Context, replyTo string, answers []broker.Addressed) error
}

// The broker's types are what the worker runs on.
var (
	_ logAppender   = (*broker.Log)(nil)
	_ logStream     = (*broker.LogReader)(nil)
	_ requestStream = (*broker.Consumer)(nil)
	_ replier       = (*broker.Replier)(nil)
)

// takeBatch is first plus whatever else is already waiting, up to max.
func takeBatch[T any](first T, ds <-chan T, max int) []T {
	batch := []T{first}
	for len(batch) < max {
		select {
		case d, ok := <-ds:
			if !ok {
				return batch
			}
			batch = append(batch, d)
		default:
			return batch
		}
	}
	return batch
}
