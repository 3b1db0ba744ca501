package orchestrator

import (
	"context"
	"sync"
	"time"
)

// scaler counts db/read calls. Its timer starts at the first read; every
// interval it sets slaves = clamp(ceil(reads/perSlave), min, max) and resets
// the count (docs/architecture.md, "Autoscaling"). Crash and admin calls are
// never counted.
type scaler struct {
	interval           time.Duration
	perSlave, min, max int
	// set receives each decision: the reads counted and the slaves decided.
	set func(reads, slaves int)

	mu      sync.Mutex
	reads   int
	started bool
	ctx     context.Context
}

func (s *scaler) countRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if !s.started && s.ctx != nil {
		s.started = true
		go s.loop(s.ctx)
	}
}

func (s *scaler) loop(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		n := s.reads
		s.reads = 0
		s.mu.Unlock()
		s.set(n, slavesFor(n, s.perSlave, s.min, s.max))
	}
}

// slavesFor is the scaling rule: 0–20 reads → 1, 21–40 → 2, … within bounds.
func slavesFor(reads, perSlave, min, max int) int {
	n := (reads + perSlave - 1) / perSlave
	if n < min {
		n = min
	}
	if n > max {
		n = max
	}
	return n
}
