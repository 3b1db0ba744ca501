package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/rideshare/dbaas/internal/broker"
)

// unsureBatch is a master's last batch when the master could not learn
// whether it counts: the append to the log was cut (the broker went away
// before confirming it) or the epoch check after it failed (the election
// backend did not answer, or a newer epoch exists). The batch is applied in
// the master's database; it counts iff every replica applies it too, which
// the log alone decides. Until the worker has read the log, its database
// must not serve.
type unsureBatch struct {
	epoch       uint64
	offset      int64  // the log offset of the master's epoch entry
	first, last uint64 // the batch's seqs
}

// unsureError ends a master whose last batch is unsure. It wraps errTainted:
// a caller that cannot read the log again must drop the database.
type unsureError struct {
	batch unsureBatch
	err   error
}

func (e *unsureError) Error() string { return e.err.Error() }
func (e *unsureError) Unwrap() error { return e.err }

// settle decides the fate of an unsure batch at the start of a term, before
// the database is read or served: a database whose batch the log holds (in
// order, at its epoch, before any newer epoch) equals what every replica
// has at the same seq and is kept; any other is emptied, so the worker
// starts again as a new replica (invariant 3). Keeping it spares a reload
// from a snapshot and a replay after a broker or coordinator blip.
func (w *Worker) settle(ctx context.Context) error {
	b := w.unsure
	held, err := w.batchInLog(ctx, b)
	if err != nil {
		return fmt.Errorf("read the log for seq %d-%d of epoch %d: %w", b.first, b.last, b.epoch, err)
	}
	if held {
		w.log.Info("the last batch of this worker's mastership is in the log; keeping its database",
			"epoch", b.epoch, "seq_first", b.first, "seq_last", b.last)
	} else {
		w.log.Warn("the last batch of this worker's mastership is not (all) in the log; emptying its database to start again as a new replica",
			"epoch", b.epoch, "seq_first", b.first, "seq_last", b.last)
		if err := w.emptyDatabase(ctx); err != nil {
			return err
		}
	}
	w.unsure = nil
	return nil
}

// batchInLog reads the log from just after the batch's epoch entry up to a
// mark published now, by the replicas' rule (replog.Entry): it says whether
// every seq of the batch is there, in order, at the batch's epoch, before
// any newer epoch entry (after which every replica skips them). The mark is
// published on this term's connection, after the one that carried the batch
// closed, so nothing of the batch can still arrive after it.
func (w *Worker) batchInLog(ctx context.Context, b *unsureBatch) (bool, error) {
	conn := w.brokerConn()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rd, err := conn.FollowLog(ctx, b.offset+1, w.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	defer rd.Close()
	lg, err := conn.OpenLog()
	if err != nil {
		return false, err
	}
	defer lg.Close()
	nonce := newNonce()
	if err := lg.Mark(ctx, nonce); err != nil {
		return false, fmt.Errorf("publish mark: %w", err)
	}
	// A replica that has applied everything before the batch, at its epoch:
	// the batch counts iff the rule applies its last seq at that epoch.
	pos := position{epoch: b.epoch, seq: b.first - 1}
	for {
		var (
			d  broker.LogMessage
			ok bool
		)
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case d, ok = <-rd.Messages():
		}
		if !ok {
			return false, errors.New("replication log consumer closed")
		}
		if aerr := d.Ack(false); aerr != nil {
			return false, fmt.Errorf("ack log message: %w", aerr)
		}
		if d.Err != nil {
			continue // every replica skips an unreadable message alike
		}
		for _, e := range d.Entries {
			if e.Nonce == nonce {
				return false, nil
			}
			if pos.read(e) == apply && e.Epoch == b.epoch && e.Seq == b.last {
				return true, nil
			}
		}
	}
}
