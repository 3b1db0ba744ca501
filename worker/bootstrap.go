package worker

// A replica starts from the newest verified snapshot and the tail of the log
// when it has nothing (new, replaced, scaled out) or is far behind
// (restarted after a long stop), so that its time to serve follows the size
// of the data, not the length of the history (invariant 8). A restarted
// replica whose own database is close to the newest snapshot resumes from it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/snapshot"
)

// errNoSnapshot: no usable snapshot covers the position the replica needs.
var errNoSnapshot = errors.New("no usable snapshot")

// startFrom loads the newest snapshot when the replica has nothing or is
// more than SnapshotEntries seqs behind it; otherwise it keeps state.
func (w *Worker) startFrom(ctx context.Context, state storage.State) (storage.State, error) {
	recs, err := w.el().Snapshots(ctx)
	if err != nil {
		return state, fmt.Errorf("read the snapshot catalog: %w", err)
	}
	newest, ok := newestComplete(recs, -1)
	if state.Offset >= 0 && (!ok || newest.Offset <= state.Offset || newest.Seq < state.Seq+w.cfg.SnapshotEntries) {
		w.log.Info("resuming from this replica's own database", "seq", state.Seq, "offset", state.Offset)
		return state, nil
	}
	if !ok {
		return state, nil
	}
	loaded, err := w.loadSnapshot(ctx, recs, -1)
	if errors.Is(err, errNoSnapshot) {
		w.log.Warn("no snapshot could be loaded; replaying the log instead", "error", err)
		return state, nil
	}
	return loaded, err
}

// rebootstrap loads a snapshot that covers the log up to offset first-1,
// after the follower found that the log now starts at first.
func (w *Worker) rebootstrap(ctx context.Context, fo *fellOffError) (storage.State, error) {
	w.log.Warn("this replica's position left the retained log; loading a snapshot", "next_offset", fo.want, "log_starts_at", fo.first)
	recs, err := w.el().Snapshots(ctx)
	if err != nil {
		return storage.State{}, fmt.Errorf("read the snapshot catalog: %w", err)
	}
	st, err := w.loadSnapshot(ctx, recs, fo.first-1)
	if errors.Is(err, errNoSnapshot) {
		return st, fmt.Errorf("%w; %w. The log was truncated past every snapshot: this replica cannot be rebuilt "+
			"without losing data. Restore the newest backup into a fresh deployment (rideshare restore), "+
			"and keep sync_log.max_bytes well above the log written between two snapshots", fo, err)
	}
	return st, err
}

// newestComplete is the newest complete record covering at least offset
// need (-1: any).
func newestComplete(recs []election.SnapshotRecord, need int64) (election.SnapshotRecord, bool) {
	for _, r := range recs {
		if r.State == election.SnapshotComplete && r.Offset >= need {
			return r, true
		}
	}
	return election.SnapshotRecord{}, false
}

// loadSnapshot imports the newest complete snapshot covering offset need,
// falling back to older ones when one is refused (a corrupt chunk, a queue
// that lost its messages): a refused snapshot is never loaded, as Import
// rolls back on the reader's error.
func (w *Worker) loadSnapshot(ctx context.Context, recs []election.SnapshotRecord, need int64) (storage.State, error) {
	var refused []error
	for _, r := range recs {
		if r.State != election.SnapshotComplete || r.Offset < need {
			continue
		}
		st, err := w.importSnapshot(ctx, r)
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return st, err
		}
		w.log.Error("refusing snapshot", "snapshot", r.ID, "seq", r.Seq, "error", err)
		refused = append(refused, err)
	}
	if len(refused) == 0 {
		return storage.State{}, fmt.Errorf("%w covers log offset %d", errNoSnapshot, need)
	}
	return storage.State{}, fmt.Errorf("%w covers log offset %d: %w", errNoSnapshot, need, errors.Join(refused...))
}

// importSnapshot streams one snapshot into the storage and moves the
// replica's position to the record's offset (a restored snapshot's record
// points at the new deployment's log, not at the one it was taken from).
func (w *Worker) importSnapshot(ctx context.Context, r election.SnapshotRecord) (storage.State, error) {
	start := time.Now()
	w.setProgress(&election.Progress{Phase: election.PhaseLoadingSnapshot, Unit: "bytes", Total: r.Bytes})
	rd, err := w.brokerConn().OpenSnapshot(ctx, r.Queue, broker.SnapshotSum{Chunks: r.Chunks, Bytes: r.Bytes, SHA256: r.SHA256},
		func(n int64) { w.progressDone(n) })
	if err != nil {
		return storage.State{}, err
	}
	defer rd.Close()
	st, err := w.st.Import(ctx, rd)
	if err != nil {
		return storage.State{}, fmt.Errorf("import snapshot %s (seq %d): %w", r.ID, r.Seq, err)
	}
	if st.Offset != r.Offset || st.Epoch < r.Epoch {
		st.Offset, st.Epoch = r.Offset, max(st.Epoch, r.Epoch)
		if _, err := w.st.Apply(ctx, storage.Batch{Epoch: st.Epoch, Offset: st.Offset}); err != nil {
			return storage.State{}, fmt.Errorf("move to the log offset of snapshot %s: %w", r.ID, err)
		}
	}
	w.applied.set(st.Seq)
	w.logEpoch.Store(st.Epoch)
	w.roleMu.Lock()
	w.from = r.ID
	w.roleMu.Unlock()
	took := time.Since(start)
	w.log.Info("loaded snapshot", "snapshot", r.ID, "seq", st.Seq, "offset", st.Offset, "bytes", r.Bytes,
		"took", took.Round(time.Millisecond))
	return st, nil
}

// emptyDatabase replaces the whole database with an empty one standing
// before the log's first entry, in one transaction: a master that may hold
// writes the log lacks drops them this way and starts again as a new
// replica (from the newest snapshot), in the same process.
func (w *Worker) emptyDatabase(ctx context.Context) error {
	var empty bytes.Buffer
	enc, err := snapshot.NewEncoder(&empty, storage.State{Offset: -1, NextID: 1})
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return fmt.Errorf("write an empty snapshot: %w", err)
	}
	if _, err := w.st.Import(ctx, &empty); err != nil {
		return fmt.Errorf("empty the database: %w", err)
	}
	w.roleMu.Lock()
	w.from = ""
	w.roleMu.Unlock()
	return nil
}
