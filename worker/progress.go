package worker

// Catch-up progress: while a replica loads a snapshot or replays the log it
// does not serve, so its election record says where it stands (phase, done
// of total, rate) for `rideshare status` and GET /api/v1/workers.

import (
	"context"
	"sync"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// progress is the catch-up position the reporter publishes.
type progress struct {
	mu  sync.Mutex
	cur *election.Progress // nil: serving
	// rate is measured between reports.
	lastDone int64
	lastAt   time.Time
}

// setProgress starts a phase (nil: catch-up is over).
func (w *Worker) setProgress(p *election.Progress) {
	w.prog.mu.Lock()
	defer w.prog.mu.Unlock()
	w.prog.cur = p
	if p != nil {
		w.prog.lastDone, w.prog.lastAt = p.Done, time.Now()
	}
}

// progressDone moves the current phase's done count.
func (w *Worker) progressDone(n int64) {
	w.prog.mu.Lock()
	defer w.prog.mu.Unlock()
	if w.prog.cur != nil {
		w.prog.cur.Done = n
	}
}

// snapshotProgress is a copy of the current progress with its rate measured
// since the last call, or nil.
func (w *Worker) snapshotProgress() *election.Progress {
	w.prog.mu.Lock()
	defer w.prog.mu.Unlock()
	if w.prog.cur == nil {
		return nil
	}
	p := *w.prog.cur
	if p.Phase == election.PhaseReplaying {
		p.Done = int64(w.applied.get())
		w.prog.cur.Done = p.Done
	}
	now := time.Now()
	if dt := now.Sub(w.prog.lastAt).Seconds(); dt > 0 && p.Done >= w.prog.lastDone {
		rate := float64(p.Done-w.prog.lastDone) / dt
		// Smooth, so that one slow interval does not swing the ETA.
		if w.prog.cur.Rate > 0 {
			rate = 0.5*rate + 0.5*w.prog.cur.Rate
		}
		w.prog.cur.Rate, p.Rate = rate, rate
	}
	w.prog.lastDone, w.prog.lastAt = p.Done, now
	return &p
}

// reportCatchUp refreshes the election record with the catch-up progress
// until ctx is done (the replica serves). While replaying, the target is the
// highest seq a ready member has applied: the master's.
func (w *Worker) reportCatchUp(ctx context.Context) {
	t := time.NewTicker(w.cfg.ReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.prog.mu.Lock()
		replaying := w.prog.cur != nil && w.prog.cur.Phase == election.PhaseReplaying
		w.prog.mu.Unlock()
		if replaying {
			if ms, err := w.el().Members(ctx); err == nil {
				var target uint64
				for _, m := range ms {
					if m.Ready && m.AppliedSeq > target {
						target = m.AppliedSeq
					}
				}
				w.prog.mu.Lock()
				if w.prog.cur != nil {
					w.prog.cur.Total = int64(target)
				}
				w.prog.mu.Unlock()
			}
		}
		if err := w.el().Update(ctx, w.member()); err != nil && ctx.Err() == nil {
			w.log.Warn("update election record", "error", err)
		}
	}
}
