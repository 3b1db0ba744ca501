package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// errStepDown: the master stopped leading with a database that holds
// nothing the log lacks (its session ended between two batches, or it
// emptied a database that might have), so it may serve again as a slave.
var errStepDown = errors.New("stopped leading")

// errDeposed stops a master whose epoch is no longer the current one.
var errDeposed = errors.New("deposed: a newer master epoch exists")

// errTainted wraps a master's failure after it applied writes the log may
// not hold: its database must never be used again (Run drops it).
var errTainted = errors.New("local database holds writes the log may not have")

// lead runs the master role for epoch until ctx is done or the worker must
// stop. It takes the writes waiting in writeQ as a batch (up to the batch
// size: group commit) and, for the batch:
//  1. applies every write locally, in order, at the next seqs, in ONE storage
//     transaction (one call across the plugin boundary) — a redelivered write
//     id is answered from its record, a constraint violation or a value the
//     storage refuses is recorded as a failed write, all still taking their
//     seq;
//  2. appends the batch to syncQ in one pipelined publish and waits for every
//     confirm: from here the writes are durable;
//  3. reads the epoch back from the election backend: if it is still ours,
//     no newer master had fenced the log when our entries were stored, so
//     every replica applies them exactly as we did (invariant 3);
//  4. answers the orchestrator and acks each write.
//
// If 2 or 3 fails the master stops without answering or acking: the writes
// go back to writeQ and the next master reads the log first (so it answers
// those that made it from their record). This worker's database holds the
// batch; whether every replica holds it too only the log can say, so the
// worker reads the log before it serves again (settle) and keeps the
// database only if the batch is there, or drops it when it cannot read it.
func (w *Worker) lead(ctx context.Context, f *follower, epoch uint64, fatal <-chan error) error {
	w.log.Info("elected master; fencing the log", "epoch", epoch)
	lg, err := w.brokerConn().OpenLog()
	if err != nil {
		return err
	}
	defer lg.Close()
	nonce := newNonce()
	fenced := f.waitFor(nonce, true)
	if err := lg.Append(ctx, replog.Entry{Kind: replog.EntryEpoch, Epoch: epoch, Nonce: nonce}); err != nil {
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
	if err := w.el().Update(ctx, w.member()); err != nil {
		return fmt.Errorf("record master role: %w", err)
	}
	w.log.Info("master ready", "epoch", epoch, "seq", state.Seq)

	writes, err := w.brokerConn().ConsumeWrites(ctx, "writes-"+w.cfg.ID, w.cfg.BatchSize)
	if err != nil {
		return err
	}
	defer writes.Close()
	in := writes.Deliveries()
	m := &master{w: w, epoch: epoch, seq: state.Seq, offset: state.Offset, log: lg}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.el().Done():
			w.log.Warn("election session lost while master; stopped taking writes")
			return errStepDown
		case err := <-fatal:
			return err
		case d, ok := <-in:
			if !ok {
				return errors.New("write consumer closed")
			}
			if err := m.commit(ctx, takeBatch(d, in, w.cfg.BatchSize)); err != nil {
				return err // unacked: the writes go back to writeQ
			}
		}
	}
}

// master is the state of the write loop; it is used by one goroutine.
type master struct {
	w     *Worker
	epoch uint64
	seq   uint64
	// offset is the log offset of our epoch entry; a master reads no further.
	offset int64
	log    logAppender
}

// handle commits one batch of writes. A returned error ends the master; the
// writes it did not answer stay unacked and go back to writeQ.
func (m *master) handle(ctx context.Context, batch []broker.Delivery) error {
	w := m.w
	var (
		ds      []broker.Delivery
		entries []replog.Entry
	)
	for _, d := range batch {
		var req dbapi.WriteRequest
		err := dbapi.Decode(d.Body, &req)
		if err == nil {
			err = req.Validate()
		}
		if err != nil { // never enters the log
			w.answer(ctx, d, http.StatusBadRequest, dbapi.ErrorBody{Error: err.Error()})
			_ = d.Ack(false)
			continue
		}
		writeID := d.MessageID
		if writeID == "" {
			writeID = d.CorrelationID
		}
		entries = append(entries, replog.Entry{Kind: replog.EntryWrite, Seq: m.seq + uint64(len(entries)) + 1,
			Epoch: m.epoch, WriteID: writeID, Write: &req})
		ds = append(ds, d)
	}
	if len(entries) == 0 {
		return nil
	}
	first, last := entries[0].Seq, entries[len(entries)-1].Seq
	outs, err := w.st.Apply(ctx, storage.Batch{Writes: entries, Epoch: m.epoch, Offset: m.offset})
	if err != nil {
		return fmt.Errorf("%w: apply seq %d-%d: %w", errTainted, first, last, err)
	}
	if len(outs) != len(entries) {
		return fmt.Errorf("%w: apply seq %d-%d: storage answered %d outcomes for %d writes", errTainted, first, last, len(outs), len(entries))
	}
	for i, o := range outs {
		req := entries[i].Write
		if t, ok := dbapi.LookupTable(req.Table); ok && t.AutoID != "" && req.Op == dbapi.OpInsert && o.ID != 0 {
			req.Values[t.AutoID] = o.ID // the id travels in the entry: every replica stores it
		}
	}
	m.seq = last
	unsure := func(err error) error {
		return &unsureError{batch: unsureBatch{epoch: m.epoch, offset: m.offset, first: first, last: last}, err: err}
	}
	if err := m.log.Append(ctx, entries...); err != nil {
		return unsure(fmt.Errorf("%w: append seq %d-%d to the log: %w", errTainted, first, last, err))
	}
	cur, err := w.el().Epoch(ctx)
	if err != nil {
		return unsure(fmt.Errorf("%w: check epoch after seq %d: %w", errTainted, last, err))
	}
	if cur != m.epoch {
		return unsure(fmt.Errorf("%w: %w (ours %d, current %d)", errTainted, errDeposed, m.epoch, cur))
	}
	w.applied.set(last)
	answers := outbox{}
	for i, o := range outs {
		status, v := writeAnswer(entries[i], o)
		answers.add(ds[i].ReplyTo, w.addressed(ds[i].CorrelationID, status, v))
	}
	w.send(ctx, answers)
	if err := ds[len(ds)-1].Ack(true); err != nil { // every write of the batch at once
		return fmt.Errorf("ack writes seq %d-%d: %w", first, last, err)
	}
	return nil
}

// writeAnswer is the DB API answer to one write of a committed batch.
func writeAnswer(e replog.Entry, o storage.Outcome) (int, any) {
	switch {
	case o.Invalid != "":
		return http.StatusBadRequest, dbapi.ErrorBody{Error: o.Invalid}
	case o.Conflict:
		return http.StatusConflict, dbapi.ErrorBody{Error: conflictMessage(*e.Write)}
	}
	seq := o.Seq // a redelivered write answers with the seq it took first
	if seq == 0 {
		seq = e.Seq
	}
	out := &dbapi.WriteResult{Seq: seq, RowsAffected: o.RowsAffected}
	if o.ID != 0 {
		id := o.ID
		out.ID = &id
	}
	return http.StatusOK, out
}

func conflictMessage(req dbapi.WriteRequest) string {
	if req.Op == dbapi.OpInsert {
		return fmt.Sprintf("%s: a row with that key already exists", req.Table)
	}
	return fmt.Sprintf("%s: the change would give two rows the same key", req.Table)
}
