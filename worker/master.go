package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/broker"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
)

// errDeposed stops a master whose epoch is no longer the current one.
var errDeposed = errors.New("deposed: a newer master epoch exists")

// errTainted wraps a master's failure after it applied writes the log may
// not hold: its database must never be used again (Run drops it).
var errTainted = errors.New("local database holds writes the log may not have")

// lead runs the master role for epoch until ctx is done or the worker must
// stop. It takes the writes waiting in writeQ as a batch (up to the prefetch)
// and, for the batch:
//  1. applies each write locally, in order, at the next seq — a redelivered
//     write id is answered from its record, and a constraint violation is
//     recorded as a failed write, both still taking their seq;
//  2. appends the batch to syncQ and waits for every confirm: from here the
//     writes are durable;
//  3. reads the epoch back from the election backend: if it is still ours,
//     no newer master had fenced the log when our entries were stored, so
//     every replica applies them exactly as we did (invariant 3);
//  4. answers the orchestrator and acks each write.
//
// If 2 or 3 fails the master stops without answering or acking: the writes
// go back to writeQ, the next master reads the log first (so it answers
// those that made it from their record) and this worker's database, which
// may hold writes the log skipped, is dropped.
func (w *Worker) lead(ctx context.Context, f *follower, epoch uint64, fatal <-chan error) error {
	w.log.Info("elected master; fencing the log", "epoch", epoch)
	logCh, err := w.conn.Channel()
	if err != nil {
		return fmt.Errorf("open log channel: %w", err)
	}
	defer logCh.Close()
	if err := logCh.Confirm(false); err != nil {
		return fmt.Errorf("confirm mode on log channel: %w", err)
	}
	nonce := newNonce()
	fenced := f.waitFor(nonce, true)
	if err := broker.Publish(ctx, logCh, dbapi.Entry{Kind: dbapi.EntryEpoch, Epoch: epoch, Nonce: nonce}); err != nil {
		return fmt.Errorf("publish epoch %d: %w", epoch, err)
	}
	select {
	case <-fenced:
	case err := <-fatal:
		return err
	case <-ctx.Done():
		return nil
	}
	<-f.done // the follower no longer touches the storage
	state, err := w.st.State(ctx)
	if err != nil {
		return fmt.Errorf("read storage state: %w", err)
	}
	if state.Epoch != epoch {
		return fmt.Errorf("%w: log shows epoch %d after fencing with %d", errDeposed, state.Epoch, epoch)
	}
	w.setRole(election.RoleMaster)
	if err := w.el.Update(ctx, w.member()); err != nil {
		return fmt.Errorf("record master role: %w", err)
	}
	w.log.Info("master ready", "epoch", epoch, "seq", state.Seq)

	wch, err := w.conn.Channel()
	if err != nil {
		return fmt.Errorf("open write channel: %w", err)
	}
	defer wch.Close()
	if err := wch.Qos(w.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set write prefetch: %w", err)
	}
	ds, err := wch.Consume(broker.WriteQ, "writes-"+w.cfg.ID, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", broker.WriteQ, err)
	}
	m := &master{w: w, epoch: epoch, seq: state.Seq, offset: state.Offset, logCh: logCh}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.el.Done():
			return errors.New("election session lost while master")
		case err := <-fatal:
			return err
		case d, ok := <-ds:
			if !ok {
				return errors.New("write consumer closed")
			}
			if err := m.handle(ctx, takeBatch(d, ds, w.cfg.Prefetch)); err != nil {
				return err // unacked: the writes go back to writeQ
			}
		}
	}
}

// takeBatch is first plus whatever else is already waiting, up to max.
func takeBatch(first amqp.Delivery, ds <-chan amqp.Delivery, max int) []amqp.Delivery {
	batch := []amqp.Delivery{first}
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

// master is the state of the write loop; it is used by one goroutine.
type master struct {
	w     *Worker
	epoch uint64
	seq   uint64
	// offset is the log offset of our epoch entry; a master reads no further.
	offset int64
	logCh  *amqp.Channel
}

// applied is one write of a batch, applied locally, waiting for the log.
type applied struct {
	d     amqp.Delivery
	entry dbapi.Entry
	reply dbapi.Reply
}

// handle applies one batch of writes. A returned error ends the master.
func (m *master) handle(ctx context.Context, batch []amqp.Delivery) error {
	w := m.w
	var done []applied
	for _, d := range batch {
		var req dbapi.WriteRequest
		err := dbapi.Decode(d.Body, &req)
		if err == nil {
			err = req.Validate()
		}
		if err != nil { // never enters the log
			w.reply(ctx, d, dbapi.Reply{Status: http.StatusBadRequest, Error: err.Error()})
			_ = d.Ack(false)
			continue
		}
		writeID := d.MessageId
		if writeID == "" {
			writeID = d.CorrelationId
		}
		e := dbapi.Entry{Kind: dbapi.EntryWrite, Seq: m.seq + 1, Epoch: m.epoch, WriteID: writeID, Write: &req}
		res, err := w.st.Apply(ctx, e, m.offset)
		var reply dbapi.Reply
		switch {
		case dbapi.IsInvalid(err):
			w.reply(ctx, d, dbapi.Reply{Status: http.StatusBadRequest, Error: err.Error()})
			_ = d.Ack(false)
			continue
		case errors.Is(err, storage.ErrConstraint):
			reply = dbapi.Reply{Status: http.StatusConflict, Error: constraintMessage(req, err)}
		case err != nil:
			return fmt.Errorf("%w: apply write %s at seq %d: %v", errTainted, writeID, e.Seq, err)
		default:
			reply = okReply(res)
		}
		if t, ok := dbapi.LookupTable(req.Table); ok && t.AutoID != "" && req.Op == dbapi.OpInsert && res.ID != 0 {
			req.Values[t.AutoID] = res.ID // the id travels in the entry: every replica stores it
		}
		m.seq = e.Seq
		done = append(done, applied{d: d, entry: e, reply: reply})
	}
	if len(done) == 0 {
		return nil
	}
	entries := make([]dbapi.Entry, len(done))
	for i, a := range done {
		entries[i] = a.entry
	}
	if err := broker.Publish(ctx, m.logCh, entries...); err != nil {
		return fmt.Errorf("%w: append seq %d-%d to the log: %v", errTainted, entries[0].Seq, m.seq, err)
	}
	cur, err := w.el.Epoch(ctx)
	if err != nil {
		return fmt.Errorf("%w: check epoch after seq %d: %v", errTainted, m.seq, err)
	}
	if cur != m.epoch {
		return fmt.Errorf("%w: %w (ours %d, current %d)", errTainted, errDeposed, m.epoch, cur)
	}
	w.applied.set(m.seq)
	for _, a := range done {
		w.reply(ctx, a.d, a.reply)
		if err := a.d.Ack(false); err != nil {
			return fmt.Errorf("ack write %s: %w", a.entry.WriteID, err)
		}
	}
	return nil
}

func okReply(res storage.Result) dbapi.Reply {
	out := &dbapi.WriteResult{Seq: res.Seq, RowsAffected: res.RowsAffected}
	if res.ID != 0 {
		id := res.ID
		out.ID = &id
	}
	return dbapi.Reply{Status: http.StatusOK, Write: out}
}

func constraintMessage(req dbapi.WriteRequest, err error) string {
	if req.Op == dbapi.OpInsert {
		return fmt.Sprintf("%s: a row with that key already exists", req.Table)
	}
	return fmt.Sprintf("%s: %v", req.Table, err)
}
