package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// follower reads the replication log and applies it to the storage by the
// rule of replog.Entry (position.read): epoch entries raise the epoch; a write
// applies iff its epoch is the current one and its seq is the next one; all
// else is skipped.
// It is the only writer of the storage until the worker becomes master.
type follower struct {
	w     *Worker
	log   logStream
	state storage.State
	// expect is the offset the first delivery must have: a later one means
	// the log no longer holds the entries in between (retention dropped
	// them), and the replica must load a snapshot instead.
	expect  int64
	checked bool
	// delivered counts the log messages read: catch-up watches it to tell
	// a follower that waits for a position the log never reaches.
	delivered atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan struct{} // nonce → closed when read
	stopAt  string                   // nonce after which the follower returns
	done    chan struct{}            // closed when run returns
}

func newFollower(ctx context.Context, w *Worker, state storage.State) (*follower, error) {
	from := int64(-1)
	if state.Offset >= 0 {
		from = state.Offset + 1
	}
	rd, err := w.brokerConn().FollowLog(ctx, from, w.cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	return newFollowerOn(w, rd, state, from), nil
}

// newFollowerOn is a follower reading log, which starts at offset from (a
// negative from: the log's first entry).
func newFollowerOn(w *Worker, log logStream, state storage.State, from int64) *follower {
	return &follower{w: w, log: log, state: state, expect: max(from, 0), waiting: map[string]chan struct{}{}, done: make(chan struct{})}
}

// fellOffError: the replication log starts after the replica's position.
type fellOffError struct {
	want, first int64
}

func (e *fellOffError) Error() string {
	return fmt.Sprintf("the replication log (%s) starts at offset %d, past this replica's next offset %d: "+
		"its retention dropped entries this replica has not applied", broker.SyncQ, e.first, e.want)
}

// waitFor returns a channel closed once the entry with nonce has been read.
// With stop, the follower returns right after it: the master takes over.
func (f *follower) waitFor(nonce string, stop bool) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan struct{})
	f.waiting[nonce] = c
	if stop {
		f.stopAt = nonce
	}
	return c
}

// run applies the log in batches: whatever entries are waiting, up to the
// batch size, are read by the rule in memory and committed in ONE storage
// transaction together with the position they reach, then acked at once.
// Marks and epoch entries are answered (waitFor) only after the commit, so a
// worker that saw its mark has its state on disk.
func (f *follower) run(ctx context.Context) error {
	defer close(f.done)
	defer f.log.Close() // also when the follower stops for the master
	in := f.log.Messages()
	for {
		var first broker.LogMessage
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case first, ok = <-in:
		}
		if !ok {
			return errors.New("replication log consumer closed")
		}
		stop, err := f.applyBatch(ctx, takeBatch(first, in, f.w.cfg.BatchSize))
		if err != nil || stop {
			return err
		}
	}
}

// applyBatch applies ds by the rule and reports whether the follower must
// stop (it read the nonce the master waits for: the entries after it are the
// master's own and are left unread).
func (f *follower) applyBatch(ctx context.Context, ds []broker.LogMessage) (bool, error) {
	s := f.state
	pos := position{epoch: s.Epoch, seq: s.Seq}
	var (
		writes []replog.Entry
		nonces []string
		stop   bool
		last   broker.LogMessage
	)
	f.delivered.Add(int64(len(ds)))
	for _, d := range ds {
		f.w.logBytes.Add(int64(d.Size))
		entries, off, err := d.Entries, d.Offset, d.Err
		if !f.checked {
			if off > f.expect {
				return false, &fellOffError{want: f.expect, first: off}
			}
			f.checked = true
		}
		if err != nil {
			// Every replica skips an unreadable message alike.
			f.w.log.Error("skipping unreadable log message", "error", err)
			entries = nil
		}
		for _, e := range entries {
			switch pos.read(e) {
			case apply:
				writes = append(writes, e)
			case raise:
				f.w.log.Info("new master epoch", "epoch", e.Epoch)
			case fenced:
				f.w.log.Warn("fenced: skipping a write of a deposed master", "seq", e.Seq, "epoch", e.Epoch, "current_epoch", pos.epoch)
			case skip:
				if e.Kind == replog.EntryWrite {
					f.w.log.Debug("skipping write entry", "seq", e.Seq, "epoch", e.Epoch, "applied", pos.seq, "current_epoch", pos.epoch)
				}
			}
			if e.Nonce != "" {
				nonces = append(nonces, e.Nonce)
				f.mu.Lock()
				stop = stop || f.stopAt == e.Nonce
				f.mu.Unlock()
			}
		}
		s.Offset = off
		last = d
		if stop { // a nonce travels alone in its message: nothing after it is ours
			break
		}
	}
	s.Epoch, s.Seq = pos.epoch, pos.seq
	outs, err := f.w.st.Apply(ctx, storage.Batch{Writes: writes, Epoch: s.Epoch, Offset: s.Offset})
	if err != nil {
		return false, fmt.Errorf("apply log offsets up to %d (seq %d): %w", s.Offset, s.Seq, err)
	}
	for i, o := range outs {
		if o.Conflict || o.Invalid != "" { // the master answered it 409/400; skipped alike everywhere
			f.w.log.Debug("log entry changed nothing", "seq", writes[i].Seq, "conflict", o.Conflict, "invalid", o.Invalid)
		}
	}
	f.state = s
	f.w.logEpoch.Store(s.Epoch)
	f.w.applied.set(s.Seq)
	if err := last.Ack(true); err != nil {
		return false, fmt.Errorf("ack log offset %d: %w", s.Offset, err)
	}
	f.mu.Lock()
	for _, n := range nonces {
		if c, mine := f.waiting[n]; mine {
			close(c)
			delete(f.waiting, n)
		}
	}
	f.mu.Unlock()
	return stop, nil
}
