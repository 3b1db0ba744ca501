package broker

// Snapshots live on the broker the deployment already has, so they work with
// every runtime and across hosts with no shared filesystem: each snapshot is
// its own stream queue of chunks, which any number of new replicas read from
// the start without consuming it. The catalog that says which snapshot is
// the newest complete one is kept by the election backend.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// SnapshotQueuePrefix begins the name of every snapshot queue.
const SnapshotQueuePrefix = "snapshot."

// DefaultSnapshotChunk is the size of one chunk message.
const DefaultSnapshotChunk = 512 << 10

// snapshotIdle bounds the wait for the next chunk of a snapshot being read:
// every chunk of a complete snapshot is already stored, so a long silence
// means the queue lost them.
const snapshotIdle = 30 * time.Second

// Headers of a chunk message.
const (
	chunkIndexHeader = "chunk"     // int64, from 0
	chunkSumHeader   = "sha256"    // hex SHA-256 of the body
	chunkEndHeader   = "end"       // set on the trailer, which has no body
	chunkTotalHeader = "total_sha" // on the trailer: hex SHA-256 of every chunk in order
)

// ErrCorruptSnapshot means stored snapshot bytes do not match their checksum,
// or chunks are missing or out of order: the snapshot must not be loaded.
var ErrCorruptSnapshot = errors.New("corrupt snapshot")

// SnapshotSum describes a snapshot's stored bytes.
type SnapshotSum struct {
	Chunks int
	Bytes  int64
	SHA256 string // hex
}

// SnapshotWriter stores one snapshot's bytes in its own stream queue. Write
// cuts them into chunks published with confirms; Close waits for every
// confirm and returns the checksum. A snapshot is usable only once its
// catalog record (written by the caller after Close) says it is complete.
type SnapshotWriter struct {
	ctx     context.Context
	ch      *amqp.Channel
	queue   string
	buf     []byte
	sum     SnapshotSum
	total   hash.Hash
	pending []*amqp.DeferredConfirmation
	err     error
}

// CreateSnapshot declares the stream queue and returns a writer into it.
func CreateSnapshot(ctx context.Context, conn *amqp.Connection, queue string) (*SnapshotWriter, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open snapshot channel for %s: %w", queue, err)
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, amqp.Table{"x-queue-type": "stream"}); err != nil {
		ch.Close()
		return nil, fmt.Errorf("declare snapshot queue %s: %w", queue, err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("confirm mode on snapshot channel for %s: %w", queue, err)
	}
	return &SnapshotWriter{ctx: ctx, ch: ch, queue: queue, buf: make([]byte, 0, DefaultSnapshotChunk), total: sha256.New()}, nil
}

// Write buffers p and publishes every full chunk.
func (w *SnapshotWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		room := DefaultSnapshotChunk - len(w.buf)
		take := min(room, len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == DefaultSnapshotChunk {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush publishes the buffered chunk.
func (w *SnapshotWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	sum := sha256.Sum256(w.buf)
	w.total.Write(w.buf)
	if err := w.publish(amqp.Table{chunkIndexHeader: int64(w.sum.Chunks), chunkSumHeader: hex.EncodeToString(sum[:])}, w.buf); err != nil {
		return err
	}
	w.sum.Chunks++
	w.sum.Bytes += int64(len(w.buf))
	w.buf = w.buf[:0]
	// Bound the confirms outstanding, so a slow broker slows the writer
	// instead of piling chunks up in memory.
	if len(w.pending) >= 16 {
		return w.waitConfirms()
	}
	return nil
}

func (w *SnapshotWriter) publish(headers amqp.Table, body []byte) error {
	conf, err := w.ch.PublishWithDeferredConfirmWithContext(w.ctx, "", w.queue, false, false, amqp.Publishing{
		Headers: headers, DeliveryMode: amqp.Persistent, ContentType: "application/octet-stream", Body: body,
	})
	if err != nil {
		w.err = fmt.Errorf("publish chunk %d of snapshot %s: %w", w.sum.Chunks, w.queue, err)
		return w.err
	}
	w.pending = append(w.pending, conf)
	return nil
}

func (w *SnapshotWriter) waitConfirms() error {
	for _, c := range w.pending {
		ok, err := c.WaitContext(w.ctx)
		if err == nil && !ok {
			err = errors.New("broker refused it")
		}
		if err != nil {
			w.err = fmt.Errorf("store a chunk of snapshot %s: %w", w.queue, err)
			return w.err
		}
	}
	w.pending = w.pending[:0]
	return nil
}

// Close publishes the last chunk and the trailer, waits until the broker
// has stored all of them, and returns what was stored.
func (w *SnapshotWriter) Close() (SnapshotSum, error) {
	defer w.ch.Close()
	if w.err != nil {
		return w.sum, w.err
	}
	if err := w.flush(); err != nil {
		return w.sum, err
	}
	w.sum.SHA256 = hex.EncodeToString(w.total.Sum(nil))
	if err := w.publish(amqp.Table{chunkEndHeader: true, chunkIndexHeader: int64(w.sum.Chunks), chunkTotalHeader: w.sum.SHA256}, nil); err != nil {
		return w.sum, err
	}
	if err := w.waitConfirms(); err != nil {
		return w.sum, err
	}
	return w.sum, nil
}

// Abort gives the writer up; the caller deletes the queue.
func (w *SnapshotWriter) Abort() { w.ch.Close() }

// SnapshotReader reads a stored snapshot back, verifying every chunk's
// checksum as it goes and, at the end, the count, size and total checksum
// against what the catalog recorded. It returns io.EOF only after all of
// that holds; anything else is an error wrapping ErrCorruptSnapshot, so that
// a storage importing from it rolls back.
type SnapshotReader struct {
	ctx    context.Context
	ch     *amqp.Channel
	queue  string
	want   SnapshotSum
	ds     <-chan amqp.Delivery
	cur    []byte
	next   int64
	read   int64
	total  hash.Hash
	done   bool
	onRead func(bytes int64)
}

// OpenSnapshot starts reading the snapshot stored in queue; want is its
// catalog record's sum. onRead, when set, is told the bytes read so far.
func OpenSnapshot(ctx context.Context, conn *amqp.Connection, queue string, want SnapshotSum, onRead func(int64)) (*SnapshotReader, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open snapshot channel for %s: %w", queue, err)
	}
	if err := ch.Qos(8, 0, false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("set prefetch on %s: %w", queue, err)
	}
	ds, err := ch.ConsumeWithContext(ctx, queue, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("read snapshot queue %s: %w", queue, err)
	}
	return &SnapshotReader{ctx: ctx, ch: ch, queue: queue, want: want, ds: ds, total: sha256.New(), onRead: onRead}, nil
}

func (r *SnapshotReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("snapshot %s: %s: %w", r.queue, fmt.Sprintf(format, args...), ErrCorruptSnapshot)
}

// Read implements io.Reader.
func (r *SnapshotReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.nextChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// nextChunk takes the next message: a verified chunk, or the trailer, which
// ends the snapshot if every check holds.
func (r *SnapshotReader) nextChunk() error {
	var d amqp.Delivery
	var ok bool
	select {
	case <-r.ctx.Done():
		return fmt.Errorf("read snapshot %s: %w", r.queue, r.ctx.Err())
	case d, ok = <-r.ds:
		if !ok {
			return fmt.Errorf("read snapshot %s: the broker closed the consumer after chunk %d", r.queue, r.next)
		}
	case <-time.After(snapshotIdle):
		return r.corrupt("no chunk %d after %s (the queue holds fewer chunks than recorded)", r.next, snapshotIdle)
	}
	_ = d.Ack(false)
	idx, _ := d.Headers[chunkIndexHeader].(int64)
	if idx != r.next {
		return r.corrupt("chunk %d where chunk %d was expected", idx, r.next)
	}
	if end, _ := d.Headers[chunkEndHeader].(bool); end {
		got := hex.EncodeToString(r.total.Sum(nil))
		switch {
		case int(r.next) != r.want.Chunks || r.read != r.want.Bytes:
			return r.corrupt("%d chunks and %d bytes stored, %d and %d recorded", r.next, r.read, r.want.Chunks, r.want.Bytes)
		case got != r.want.SHA256:
			return r.corrupt("checksum %s, recorded %s", got, r.want.SHA256)
		}
		r.done = true
		return nil
	}
	sum := sha256.Sum256(d.Body)
	if want, _ := d.Headers[chunkSumHeader].(string); want != hex.EncodeToString(sum[:]) {
		return r.corrupt("chunk %d does not match its checksum", idx)
	}
	r.total.Write(d.Body)
	r.read += int64(len(d.Body))
	r.next++
	r.cur = d.Body
	if r.onRead != nil {
		r.onRead(r.read)
	}
	return nil
}

// Close stops reading.
func (r *SnapshotReader) Close() error { return r.ch.Close() }

// DeleteSnapshot deletes a snapshot's queue; one already gone is not an error.
func DeleteSnapshot(conn *amqp.Connection, queue string) error {
	return deleteQueues(conn, queue)
}
