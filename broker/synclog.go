package broker

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/dbapi"
)

// Publish appends entries to the replication log, in order, and returns
// once the broker has confirmed every one is stored (the confirms are
// pipelined: one wait for the batch). ch must be in confirm mode. An error
// means any of them may or may not be in the log: the caller must not
// assume either (the master stops, and the next one reads the log to find
// out).
func Publish(ctx context.Context, ch *amqp.Channel, entries ...dbapi.Entry) error {
	confs := make([]*amqp.DeferredConfirmation, 0, len(entries))
	for _, e := range entries {
		body, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s entry seq %d: %w", e.Kind, e.Seq, err)
		}
		conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", SyncQ, false, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			Body:         body,
		})
		if err != nil {
			return fmt.Errorf("publish %s entry seq %d: %w", e.Kind, e.Seq, err)
		}
		confs = append(confs, conf)
	}
	for i, conf := range confs {
		ok, err := conf.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("confirm %s entry seq %d: %w", entries[i].Kind, entries[i].Seq, err)
		}
		if !ok {
			return fmt.Errorf("broker refused %s entry seq %d", entries[i].Kind, entries[i].Seq)
		}
	}
	return nil
}

// Follow consumes the replication log from offset (the next entry to read;
// a negative offset means from the first entry). A stream consumer needs a
// prefetch and manual acks; autoAck would close the connection.
func Follow(ctx context.Context, ch *amqp.Channel, offset int64, prefetch int) (<-chan amqp.Delivery, error) {
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch on %s: %w", SyncQ, err)
	}
	var from any = "first"
	if offset >= 0 {
		from = offset
	}
	ds, err := ch.ConsumeWithContext(ctx, SyncQ, "", false, false, false, false, amqp.Table{"x-stream-offset": from})
	if err != nil {
		return nil, fmt.Errorf("follow %s from offset %v: %w", SyncQ, from, err)
	}
	return ds, nil
}

// DecodeEntry reads one log delivery: the entry and its stream offset.
func DecodeEntry(d amqp.Delivery) (dbapi.Entry, int64, error) {
	off, ok := d.Headers["x-stream-offset"].(int64)
	if !ok {
		return dbapi.Entry{}, 0, fmt.Errorf("log delivery without x-stream-offset header")
	}
	var e dbapi.Entry
	if err := dbapi.Decode(d.Body, &e); err != nil {
		return dbapi.Entry{}, off, fmt.Errorf("decode log entry at offset %d: %w", off, err)
	}
	if e.Write != nil {
		if err := e.Write.Typed(); err != nil {
			return dbapi.Entry{}, off, fmt.Errorf("log entry at offset %d: %w", off, err)
		}
	}
	return e, off, nil
}
