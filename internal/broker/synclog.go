package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/replog"
)

// Publish appends entries to the replication log, in order, as ONE message
// (a JSON array), and returns once the broker has confirmed it is stored. A
// master's whole batch is one log message: one publish, one confirm, one
// delivery per follower, whatever the batch size. ch must be in confirm mode.
// An error means the entries may or may not be in the log: the caller must
// not assume either (the master stops, and the next one reads the log to find
// out).
func Publish(ctx context.Context, ch *amqp.Channel, entries ...replog.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	first, last := entries[0], entries[len(entries)-1]
	body, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("encode %d log entries (%s seq %d to %s seq %d): %w", len(entries), first.Kind, first.Seq, last.Kind, last.Seq, err)
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", SyncQ, false, false, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		Body:         body,
	})
	if err != nil {
		return fmt.Errorf("publish %s entry seq %d to %s entry seq %d: %w", first.Kind, first.Seq, last.Kind, last.Seq, err)
	}
	ok, err := conf.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("confirm %s entry seq %d to %s entry seq %d: %w", first.Kind, first.Seq, last.Kind, last.Seq, err)
	}
	if !ok {
		return fmt.Errorf("broker refused %s entry seq %d to %s entry seq %d", first.Kind, first.Seq, last.Kind, last.Seq)
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

// DecodeEntries reads one log delivery: its entries, in order, and its
// stream offset. A message holds a JSON array of entries (Publish) or, as
// logs written before batching do, a single entry object.
func DecodeEntries(d amqp.Delivery) ([]replog.Entry, int64, error) {
	off, ok := d.Headers["x-stream-offset"].(int64)
	if !ok {
		return nil, 0, fmt.Errorf("log delivery without x-stream-offset header")
	}
	body := bytes.TrimSpace(d.Body)
	var entries []replog.Entry
	if len(body) > 0 && body[0] == '[' {
		if err := dbapi.Decode(body, &entries); err != nil {
			return nil, off, fmt.Errorf("decode log entries at offset %d: %w", off, err)
		}
	} else {
		var e replog.Entry
		if err := dbapi.Decode(body, &e); err != nil {
			return nil, off, fmt.Errorf("decode log entry at offset %d: %w", off, err)
		}
		entries = []replog.Entry{e}
	}
	for i := range entries {
		if w := entries[i].Write; w != nil {
			if err := w.Typed(); err != nil {
				return nil, off, fmt.Errorf("log entry seq %d at offset %d: %w", entries[i].Seq, off, err)
			}
		}
	}
	return entries, off, nil
}

// LogTail returns the highest offset syncQ holds among the entries published
// since since (-1: none). It reads the stream from that time on a channel of
// its own and stops once the stream has been silent for a moment, so the
// caller publishes something (a mark) before asking.
func LogTail(ctx context.Context, conn *amqp.Connection, since time.Time) (int64, error) {
	ch, err := conn.Channel()
	if err != nil {
		return -1, fmt.Errorf("open channel to read the tail of %s: %w", SyncQ, err)
	}
	defer ch.Close()
	if err := ch.Qos(256, 0, false); err != nil {
		return -1, fmt.Errorf("set prefetch on %s: %w", SyncQ, err)
	}
	ds, err := ch.ConsumeWithContext(ctx, SyncQ, "", false, false, false, false, amqp.Table{"x-stream-offset": since})
	if err != nil {
		return -1, fmt.Errorf("read the tail of %s: %w", SyncQ, err)
	}
	tail := int64(-1)
	const quiet = 300 * time.Millisecond
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return tail, ctx.Err()
		case d, ok := <-ds:
			if !ok {
				return tail, fmt.Errorf("read the tail of %s: consumer closed", SyncQ)
			}
			if off, ok := d.Headers["x-stream-offset"].(int64); ok && off > tail {
				tail = off
			}
			_ = d.Ack(false)
			timer.Reset(quiet)
		case <-timer.C:
			return tail, nil
		}
	}
}
