package orchestrator

import (
	"context"
	"sync"
	"time"
)

// scaler counts db/read calls: this orchestrator's, and, while it
// supervises, those the others tally to it (tally.go). Its timer starts at
// the first read; every interval it sets slaves = clamp(ceil(reads/perSlave),
// min, max) and resets the count (docs/architecture.md, "Autoscaling").
// Crash and admin calls are never counted.
type scaler struct {
	interval           time.Duration
	perSlave, min, max int
	// set receives each decision: the reads counted and the slaves decided.
	set func(reads, slaves int)

	mu      sync.Mutex
	reads   int
	started bool
	ctx     context.Context
	// tally is the reads counted here since the last takeTally (tally.go).
	tally int
}

// countRead counts one db/read call this orchestrator took.
func (s *scaler) countRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tally++
	s.add(1)
}

// countReads counts n reads another orchestrator took (its read tally).
func (s *scaler) countReads(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(n)
}

// add counts n reads in the current interval, starting the timer at the
// first; the caller holds mu.
func (s *scaler) add(n int) {
	s.reads += n
	if !s.started && s.ctx != nil {
		s.started = true
		go s.loop(s.ctx)
	}
}

// takeTally is the reads this orchestrator took since the last call.
func (s *scaler) takeTally() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.tally
	s.tally = 0
	return n
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
