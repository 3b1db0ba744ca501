package worker

// The snapshotter: one slave at a time (the oldest ready one) takes a
// snapshot of its database when enough of the log has been written since the
// newest one, stores it on the broker and records it in the catalog, then
// removes what the catalog no longer needs. The master never does: it keeps
// its CPU for writes.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
)

// Defaults of the snapshot policy (Config).
const (
	// DefaultSnapshotEntries: a snapshot is taken once this many seqs have
	// been applied since the newest one; a restarted replica further behind
	// than this loads the newest snapshot instead of replaying.
	DefaultSnapshotEntries = 20000
	// DefaultSnapshotInterval: a snapshot is taken at least this often while
	// anything is written.
	DefaultSnapshotInterval = time.Minute
	// DefaultSnapshotKeep is how many complete snapshots the catalog keeps:
	// the newest, and older ones to fall back on if it is refused.
	DefaultSnapshotKeep = 2
	// snapshotCheck is how often the snapshotter looks at the policy.
	snapshotCheck = time.Second
	// staleWriting is how long a record may stay in the writing state when
	// its writer is alive (a writer that died is cleaned up at once).
	staleWriting = time.Hour
)

// snapshotter is the loop's memory between checks.
type snapshotter struct {
	w         *Worker
	since     time.Time // of the newest snapshot, or the loop's start
	bytesMark int64     // logBytes when the newest snapshot was taken by this worker
}

// snapshots runs the snapshot policy until ctx is done.
func (w *Worker) snapshots(ctx context.Context) {
	s := &snapshotter{w: w, since: time.Now(), bytesMark: w.logBytes.Load()}
	t := time.NewTicker(snapshotCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.check(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, election.ErrSessionLost) {
				continue // the worker is renewing its session
			}
			w.log.Warn("snapshot", "error", err)
		}
	}
}

// check takes a snapshot if this worker is the snapshotter and one is due.
func (s *snapshotter) check(ctx context.Context) error {
	w := s.w
	ms, err := w.el().Members(ctx)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	if !isSnapshotter(ms, w.cfg.ID) {
		return nil
	}
	recs, err := w.el().Snapshots(ctx)
	if err != nil {
		return fmt.Errorf("read the snapshot catalog: %w", err)
	}
	newest, have := newestComplete(recs, -1)
	applied := w.applied.get()
	if have && newest.CompletedAt.After(s.since) {
		s.since = newest.CompletedAt
	}
	var requests []election.SnapshotRecord
	for _, r := range recs {
		if r.State == election.SnapshotRequested {
			requests = append(requests, r)
		}
	}
	bound := w.cfg.SyncLog.Bound()
	var why string
	switch {
	case len(requests) > 0:
		why = "requested"
	case !have && applied > 0:
		why = "none yet"
	case have && applied >= newest.Seq+w.cfg.SnapshotEntries:
		why = "entries"
	case bound > 0 && w.logBytes.Load()-s.bytesMark >= bound/4:
		why = "log bytes"
	case have && applied > newest.Seq && time.Since(s.since) >= w.cfg.SnapshotInterval:
		why = "interval"
	default:
		return s.cleanup(ctx, recs, ms)
	}
	mark := w.logBytes.Load()
	rec, err := w.takeSnapshot(ctx)
	if err != nil {
		return err
	}
	s.since, s.bytesMark = rec.CompletedAt, mark
	w.log.Info("took snapshot", "snapshot", rec.ID, "why", why, "seq", rec.Seq, "bytes", rec.Bytes,
		"took", rec.CompletedAt.Sub(rec.StartedAt).Round(time.Millisecond))
	for _, r := range requests { // all older than this snapshot: it answers them
		if err := w.el().DeleteSnapshot(ctx, r.ID); err != nil {
			return fmt.Errorf("delete fulfilled request %s: %w", r.ID, err)
		}
	}
	if recs, err = w.el().Snapshots(ctx); err != nil {
		return fmt.Errorf("read the snapshot catalog: %w", err)
	}
	return s.cleanup(ctx, recs, ms)
}

// isSnapshotter: id is the oldest ready, non-draining slave.
func isSnapshotter(ms []election.Member, id string) bool {
	var cands []election.Member
	for _, m := range ms {
		if m.Role == election.RoleSlave && m.Ready && !m.Draining {
			cands = append(cands, m)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].StartedAt.Equal(cands[j].StartedAt) {
			return cands[i].StartedAt.Before(cands[j].StartedAt)
		}
		return cands[i].ID < cands[j].ID
	})
	return len(cands) > 0 && cands[0].ID == id
}

// takeSnapshot exports the database into a new snapshot queue and records it
// complete. The record says "writing" while chunks are stored, so a worker
// killed half-way leaves a record nobody loads and the next cleanup removes.
func (w *Worker) takeSnapshot(ctx context.Context) (election.SnapshotRecord, error) {
	id := election.NewSnapshotID(w.cfg.ID)
	rec := election.SnapshotRecord{ID: id, State: election.SnapshotWriting, Queue: broker.SnapshotQueuePrefix + id,
		TakenBy: w.cfg.ID, StartedAt: time.Now().UTC()}
	if err := w.el().PutSnapshot(ctx, rec); err != nil {
		return rec, fmt.Errorf("record snapshot %s: %w", id, err)
	}
	fail := func(err error) (election.SnapshotRecord, error) {
		bg := context.WithoutCancel(ctx)
		if derr := w.brokerConn().DeleteSnapshot(rec.Queue); derr != nil {
			w.log.Warn("delete failed snapshot queue", "queue", rec.Queue, "error", derr)
		} else if derr := w.el().DeleteSnapshot(bg, id); derr != nil {
			w.log.Warn("delete failed snapshot record", "snapshot", id, "error", derr)
		}
		return rec, err
	}
	sw, err := w.brokerConn().CreateSnapshot(ctx, rec.Queue)
	if err != nil {
		return fail(err)
	}
	st, err := w.st.Export(ctx, sw)
	if err != nil {
		sw.Abort()
		return fail(fmt.Errorf("export snapshot %s: %w", id, err))
	}
	sum, err := sw.Close()
	if err != nil {
		return fail(err)
	}
	rec.State, rec.Seq, rec.Epoch, rec.Offset = election.SnapshotComplete, st.Seq, st.Epoch, st.Offset
	rec.Chunks, rec.Bytes, rec.SHA256, rec.CompletedAt = sum.Chunks, sum.Bytes, sum.SHA256, time.Now().UTC()
	if err := w.el().PutSnapshot(ctx, rec); err != nil {
		return fail(fmt.Errorf("record snapshot %s complete: %w", id, err))
	}
	return rec, nil
}

// cleanup deletes complete snapshots beyond the newest SnapshotKeep (never
// the newest: a snapshot goes only once a newer one is complete) and
// "writing" records whose writer is gone or that are stale.
func (s *snapshotter) cleanup(ctx context.Context, recs []election.SnapshotRecord, ms []election.Member) error {
	w := s.w
	live := map[string]bool{}
	for _, m := range ms {
		live[m.ID] = true
	}
	kept := 0
	var errs []error
	for _, r := range recs { // newest first
		drop := false
		switch r.State {
		case election.SnapshotComplete:
			kept++
			drop = kept > DefaultSnapshotKeep
		case election.SnapshotWriting:
			drop = (!live[r.TakenBy] && r.TakenBy != w.cfg.ID) || time.Since(r.StartedAt) > staleWriting
		}
		if !drop {
			continue
		}
		if r.Queue != "" {
			if err := w.brokerConn().DeleteSnapshot(r.Queue); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := w.el().DeleteSnapshot(ctx, r.ID); err != nil {
			errs = append(errs, fmt.Errorf("delete snapshot record %s: %w", r.ID, err))
			continue
		}
		w.log.Info("deleted snapshot", "snapshot", r.ID, "state", r.State, "seq", r.Seq)
	}
	return errors.Join(errs...)
}
