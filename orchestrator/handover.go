package orchestrator

import (
	"context"
	"time"
)

// handoverWait bounds how long a stopping orchestrator looks for another
// one to take the supervision over before it stops the workers itself: a
// standby waiting in line holds the lock within milliseconds of its release.
const handoverWait = time.Second

// SupervisedElsewhere says whether another orchestrator holds the
// supervision lock, or takes it within handoverWait (ctx permitting), once
// this one's session is closed. A stopping orchestrator told to stop the
// workers (StopWorkersOnExit) leaves them running then: with two
// orchestrators, restarting one must not take the workers down with it,
// while the last one stopped (docker-compose down) still stops them.
func (s *Supervisor) SupervisedElsewhere(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, handoverWait)
	defer cancel()
	el, err := s.openElection(ctx)
	if err != nil {
		return false
	}
	defer el.Close()
	for {
		if id, ok, err := el.Supervisor(ctx); err == nil && ok && id != s.id {
			s.log.Info("another orchestrator supervises: leaving the workers running", "supervisor", id)
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}
