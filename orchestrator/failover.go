package orchestrator

import (
	"fmt"
	"sync"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
)

// leadership follows what the supervisor sees of the master and of dead
// workers, to put failovers and replacements on the timeline. It only
// observes: the workers elect, the supervisor replaces.
//
// A failover is a change of leader after the old master was lost: its
// process exited or was killed, or its election record vanished (a lost
// session). Its duration runs from the first sighting of the loss (or of
// the leader's absence, if that came first) to the reconcile that reads the
// new leader's record. A change of leader whose old master kept its record
// all along is a planned switchover, which its own code records; the first
// leader an orchestrator sees is not a failover.
type leadership struct {
	mu     sync.Mutex
	master election.Leader // the master last seen; ID "" before any
	// goneAt is when the master was first seen lost (zero while it lives);
	// leaderlessAt when the leader was first seen missing.
	goneAt, leaderlessAt time.Time
	// dead are workers that exited without being drained and are not
	// replaced yet, oldest first.
	dead []deadWorker
}

type deadWorker struct {
	id  string
	pid int
}

// lost notes that worker id is gone (exited, killed): if it is the master,
// the failover's clock starts.
func (l *leadership) lost(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id != "" && id == l.master.ID && l.goneAt.IsZero() {
		l.goneAt = now
	}
}

// exited notes a dead worker; one not drained awaits a replacement.
func (l *leadership) exited(id string, pid int, drained bool, now time.Time) {
	l.lost(id, now)
	if drained {
		return
	}
	l.mu.Lock()
	l.dead = append(l.dead, deadWorker{id: id, pid: pid})
	l.mu.Unlock()
}

// seen is what a reconcile read from the election: the leader (ok=false:
// none) and the ids of the members with a record. It returns the failover
// event when the leader changed after the old master was lost.
func (l *leadership) seen(leader election.Leader, ok bool, present map[string]bool, now time.Time) (api.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.master.ID != "" && l.goneAt.IsZero() && !present[l.master.ID] {
		l.goneAt = now
	}
	switch {
	case !ok:
		if l.master.ID != "" && l.leaderlessAt.IsZero() {
			l.leaderlessAt = now
		}
		return api.Event{}, false
	case leader.ID == l.master.ID:
		l.master, l.leaderlessAt = leader, time.Time{}
		return api.Event{}, false
	}
	prev, lostAt := l.master, l.goneAt
	if !l.leaderlessAt.IsZero() && l.leaderlessAt.Before(lostAt) {
		lostAt = l.leaderlessAt
	}
	gone := !l.goneAt.IsZero()
	l.master, l.goneAt, l.leaderlessAt = leader, time.Time{}, time.Time{}
	if prev.ID == "" || !gone {
		return api.Event{}, false
	}
	return api.Event{Time: now, Kind: api.EventFailover, Worker: leader.ID, PID: leader.PID, Epoch: leader.Epoch,
		DurationMS: float64(now.Sub(lostAt)) / float64(time.Millisecond),
		Detail: fmt.Sprintf("master %s (pid %d) lost; %s (pid %d) is master at epoch %d",
			prev.ID, prev.PID, leader.ID, leader.PID, leader.Epoch)}, true
}

// takeDead returns up to n dead workers awaiting replacement, for the n
// workers a reconcile starts (n ≤ 0 when it starts none, or drains).
// Dead workers beyond n need no replacement (the desired count fell
// meanwhile) and are forgotten.
func (l *leadership) takeDead(n int) []deadWorker {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.dead[:max(0, min(n, len(l.dead)))]
	l.dead = nil
	return out
}

// deadWorkers is a copy of the dead workers awaiting replacement.
func (l *leadership) deadWorkers() []deadWorker {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]deadWorker(nil), l.dead...)
}

// startedElsewhere drops the n oldest dead workers: a standby saw n new
// workers that the supervisor started, which replaced them. What is left is
// what a standby that takes over still has to replace (and shows as such).
func (l *leadership) startedElsewhere(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dead = l.dead[min(max(n, 0), len(l.dead)):]
}

// putBack returns dead workers whose replacement failed to start.
func (l *leadership) putBack(ds []deadWorker) {
	if len(ds) == 0 {
		return
	}
	l.mu.Lock()
	l.dead = append(append([]deadWorker(nil), ds...), l.dead...)
	l.mu.Unlock()
}

// replacedEvent is the timeline entry of a replacement started for d.
func replacedEvent(d deadWorker, id string, pid int) api.Event {
	return api.Event{Kind: api.EventReplaced, Worker: id, PID: pid,
		Detail: fmt.Sprintf("%s (pid %d) started in place of %s (pid %d), which exited", id, pid, d.id, d.pid)}
}
