package worker

import (
	"context"
	"sync"
)

// appliedSeq is the last seq this replica has applied, with a way to wait for
// it to reach a value: reads with min_seq wait on it.
type appliedSeq struct {
	mu      sync.Mutex
	seq     uint64
	changed chan struct{} // closed and replaced on every advance
}

func newAppliedSeq(seq uint64) *appliedSeq {
	return &appliedSeq{seq: seq, changed: make(chan struct{})}
}

func (a *appliedSeq) get() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq
}

func (a *appliedSeq) set(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq == a.seq {
		return
	}
	a.seq = seq
	close(a.changed)
	a.changed = make(chan struct{})
}

// waitFor blocks until the applied seq is at least seq or ctx is done, and
// returns the applied seq it saw last.
func (a *appliedSeq) waitFor(ctx context.Context, seq uint64) (uint64, bool) {
	for {
		a.mu.Lock()
		cur, ch := a.seq, a.changed
		a.mu.Unlock()
		if cur >= seq {
			return cur, true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cur, false
		}
	}
}
