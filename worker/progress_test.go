package worker

import (
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// The catch-up progress a worker publishes: done, total, a rate measured
// between reports, and the ETA that follows from them.
func TestCatchUpProgress(t *testing.T) {
	w := &Worker{applied: newAppliedSeq(100)}
	if p := w.snapshotProgress(); p != nil {
		t.Fatalf("progress before any phase: %+v", p)
	}
	w.setProgress(&election.Progress{Phase: election.PhaseLoadingSnapshot, Unit: "bytes", Total: 1000})
	w.prog.lastAt = time.Now().Add(-time.Second) // as if the last report was a second ago
	w.progressDone(400)
	p := w.snapshotProgress()
	if p.Done != 400 || p.Total != 1000 || p.Rate < 300 || p.Rate > 500 {
		t.Fatalf("loading: %+v, want 400/1000 at about 400/s", p)
	}
	if eta := p.ETA(); eta < time.Second || eta > 2*time.Second {
		t.Fatalf("ETA %s, want about 1.5s", eta)
	}

	// Replaying counts applied seqs, whatever progressDone said.
	w.setProgress(&election.Progress{Phase: election.PhaseReplaying, Unit: "seq", Done: 100, Total: 300})
	w.prog.lastAt = time.Now().Add(-time.Second)
	w.applied.set(200)
	p = w.snapshotProgress()
	if p.Done != 200 || p.Rate < 80 || p.Rate > 120 {
		t.Fatalf("replaying: %+v, want done 200 at about 100/s", p)
	}
	w.setProgress(nil)
	if p := w.snapshotProgress(); p != nil {
		t.Fatalf("progress after catch-up: %+v", p)
	}
	if eta := (election.Progress{Done: 5, Total: 5, Rate: 1}).ETA(); eta != 0 {
		t.Fatalf("ETA when done: %s", eta)
	}
}
