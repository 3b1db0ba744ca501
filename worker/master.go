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

// lead runs the master role for epoch until ctx is done or the worker must
// stop. Order of one write, and why:
//  1. a redelivered write id already in the log is answered from its record;
//  2. a dry run learns the result (and the generated id) or the 409, so that
//     no failing write enters the log;
//  3. the entry is appended to syncQ and confirmed: from here it is durable;
//  4. the epoch is read back from the election backend: if it is still ours,
//     no newer master had fenced the log when our entry was stored, so every
//     replica will apply it (invariant 3 keeps a deposed master out);
//  5. it is applied locally and the orchestrator is answered, then acked.
//
// A crash anywhere leaves the write in writeQ (unacked) and maybe in the log;
// the next master reads the log first, so it answers it from step 1.
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
			if err := m.handle(ctx, d); err != nil {
				return err // unacked: the write goes back to writeQ
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
	logCh  *amqp.Channel
}

// handle applies one write. A returned error ends the master.
func (m *master) handle(ctx context.Context, d amqp.Delivery) error {
	w := m.w
	answer := func(r dbapi.Reply) error {
		w.reply(ctx, d, r)
		return d.Ack(false)
	}
	var req dbapi.WriteRequest
	if err := dbapi.Decode(d.Body, &req); err != nil {
		return answer(dbapi.Reply{Status: http.StatusBadRequest, Error: err.Error()})
	}
	if err := req.Validate(); err != nil {
		return answer(dbapi.Reply{Status: http.StatusBadRequest, Error: err.Error()})
	}
	writeID := d.MessageId
	if writeID == "" {
		writeID = d.CorrelationId
	}
	if writeID != "" {
		res, ok, err := w.st.Lookup(ctx, writeID)
		switch {
		case ok && errors.Is(err, storage.ErrConstraint):
			return answer(dbapi.Reply{Status: http.StatusConflict, Error: constraintMessage(req, err)})
		case err != nil:
			return fmt.Errorf("look up write %s: %w", writeID, err)
		case ok:
			w.log.Debug("redelivered write answered from its record", "write_id", writeID, "seq", res.Seq)
			return answer(okReply(res))
		}
	}
	e := dbapi.Entry{Kind: dbapi.EntryWrite, Seq: m.seq + 1, Epoch: m.epoch, WriteID: writeID, Write: &req}
	res, err := w.st.Apply(ctx, e, -1, true)
	if errors.Is(err, storage.ErrConstraint) {
		return answer(dbapi.Reply{Status: http.StatusConflict, Error: constraintMessage(req, err)})
	}
	if err != nil {
		return fmt.Errorf("dry run of write %s: %w", writeID, err)
	}
	if t, ok := dbapi.LookupTable(req.Table); ok && t.AutoID != "" && req.Op == dbapi.OpInsert && res.ID != 0 {
		req.Values[t.AutoID] = res.ID // the id travels in the entry: every replica stores it
	}
	if err := broker.Publish(ctx, m.logCh, e); err != nil {
		return fmt.Errorf("append write %s to the log: %w", writeID, err)
	}
	cur, err := w.el.Epoch(ctx)
	if err != nil {
		return fmt.Errorf("check epoch after seq %d: %w", e.Seq, err)
	}
	if cur != m.epoch {
		return fmt.Errorf("%w (ours %d, current %d)", errDeposed, m.epoch, cur)
	}
	res, err = w.st.Apply(ctx, e, m.offset, false)
	if err != nil {
		return fmt.Errorf("apply write %s at seq %d: %w", writeID, e.Seq, err)
	}
	m.seq = e.Seq
	w.applied.set(m.seq)
	return answer(okReply(res))
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
