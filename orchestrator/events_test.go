package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
)

// The journal keeps the last `keep` events, oldest first, stamps an event
// with no time, counts every kind for ever and keeps the last failover once
// the ring has moved past it.
func TestJournalKeepsTheLastEventsOldestFirst(t *testing.T) {
	j := newJournal(3)
	j.add(api.Event{Kind: api.EventFailover, Worker: "w-1", DurationMS: 12})
	for i := 0; i < 4; i++ {
		j.add(api.Event{Kind: api.EventCrash, Worker: fmt.Sprint("c", i)})
	}
	got := j.list()
	if len(got) != 3 || got[0].Worker != "c1" || got[1].Worker != "c2" || got[2].Worker != "c3" {
		t.Fatalf("list = %+v, want c1, c2, c3", got)
	}
	for _, e := range got {
		if e.Time.IsZero() {
			t.Fatalf("event %+v has no time", e)
		}
	}
	if j.count(api.EventCrash) != 4 || j.count(api.EventFailover) != 1 || j.count(api.EventScale) != 0 {
		t.Fatalf("counts crash %d failover %d scale %d, want 4 1 0", j.count(api.EventCrash), j.count(api.EventFailover), j.count(api.EventScale))
	}
	if f := j.failover(); f == nil || f.Worker != "w-1" || f.DurationMS != 12 {
		t.Fatalf("last failover = %+v, want w-1's", f)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j.add(api.Event{Kind: api.EventSwitchover, Time: at})
	if got := j.list(); !got[2].Time.Equal(at) || got[0].Worker != "c2" {
		t.Fatalf("after one more: %+v, want c2 first and the given time kept", got)
	}
	if newJournal(0).keep != DefaultEventsKept {
		t.Fatalf("a zero keep is not DefaultEventsKept")
	}
}

func present(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// A failover is a new leader after the old master was lost; its duration
// runs from the first sighting of the loss. The first leader, and a change
// whose old master kept its record (a switchover), are not failovers.
func TestLeadershipTellsFailovers(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	a := election.Leader{ID: "a", PID: 10, Epoch: 1}
	b := election.Leader{ID: "b", PID: 11, Epoch: 2}
	c := election.Leader{ID: "c", PID: 12, Epoch: 3}
	var l leadership

	if _, ok := l.seen(election.Leader{}, false, present(), at(0)); ok {
		t.Fatal("no leader yet is a failover")
	}
	if _, ok := l.seen(a, true, present("a", "b", "c"), at(1)); ok {
		t.Fatal("the first leader seen is a failover")
	}
	// a exits; the election is in progress; b wins.
	l.exited("a", 10, false, at(100))
	if _, ok := l.seen(election.Leader{}, false, present("b", "c"), at(150)); ok {
		t.Fatal("no leader is a failover")
	}
	ev, ok := l.seen(b, true, present("b", "c"), at(400))
	if !ok || ev.Kind != api.EventFailover || ev.Worker != "b" || ev.PID != 11 || ev.Epoch != 2 || ev.DurationMS != 300 {
		t.Fatalf("failover a→b = %+v %v, want b at epoch 2 after 300 ms (from the exit)", ev, ok)
	}
	if _, ok := l.seen(b, true, present("b", "c"), at(500)); ok {
		t.Fatal("the same leader again is a failover")
	}
	// A switchover: b keeps its record while c takes the lead.
	if _, ok := l.seen(election.Leader{}, false, present("b", "c"), at(600)); ok {
		t.Fatal("a gap in a switchover is a failover")
	}
	if _, ok := l.seen(c, true, present("b", "c"), at(700)); ok {
		t.Fatal("a switchover (old master still a member) is a failover")
	}
	// c's record vanishes (lost session) before anything else is seen.
	if _, ok := l.seen(c, true, present("b"), at(800)); ok {
		t.Fatal("a master without record is already a failover")
	}
	ev, ok = l.seen(b, true, present("b"), at(1000))
	if !ok || ev.Worker != "b" || ev.DurationMS != 200 {
		t.Fatalf("failover c→b = %+v %v, want b after 200 ms (from the record's loss)", ev, ok)
	}
	// A kill (the crash API) starts the clock too; a later exit does not move it.
	l.lost("b", at(2000))
	l.exited("b", 11, false, at(2050))
	if ev, ok = l.seen(a, true, present("a"), at(2500)); !ok || ev.DurationMS != 500 {
		t.Fatalf("failover b→a = %+v %v, want 500 ms from the kill", ev, ok)
	}
}

// Dead workers that were not drained await a replacement, oldest first;
// those beyond what a reconcile starts are forgotten; a failed start puts
// them back.
func TestLeadershipTellsReplacements(t *testing.T) {
	var l leadership
	now := time.Now()
	l.exited("x", 1, false, now)
	l.exited("d", 2, true, now) // drained: no replacement
	l.exited("y", 3, false, now)
	got := l.takeDead(5)
	if len(got) != 2 || got[0].id != "x" || got[1].id != "y" {
		t.Fatalf("takeDead = %+v, want x, y", got)
	}
	l.putBack(got[1:])
	if got := l.takeDead(1); len(got) != 1 || got[0].id != "y" {
		t.Fatalf("after putBack, takeDead = %+v, want y", got)
	}
	l.exited("z", 4, false, now)
	if got := l.takeDead(-2); len(got) != 0 { // a reconcile that drains
		t.Fatalf("takeDead(-2) = %+v", got)
	}
	if got := l.takeDead(3); len(got) != 0 {
		t.Fatalf("a dead worker no start replaced is kept: %+v", got)
	}
	// A standby: workers the supervisor started replaced the oldest dead.
	l.exited("a", 5, false, now)
	l.exited("b", 6, false, now)
	l.exited("c", 7, false, now)
	l.startedElsewhere(2)
	if got := l.takeDead(3); len(got) != 1 || got[0].id != "c" {
		t.Fatalf("after 2 started elsewhere, takeDead = %+v, want c", got)
	}
	l.exited("e", 8, false, now)
	l.startedElsewhere(4)
	if got := l.takeDead(1); len(got) != 0 {
		t.Fatalf("more started elsewhere than dead: takeDead = %+v", got)
	}
	ev := replacedEvent(deadWorker{id: "x", pid: 1}, "n", 9)
	if ev.Kind != api.EventReplaced || ev.Worker != "n" || ev.PID != 9 {
		t.Fatalf("replaced event %+v", ev)
	}
}

// Lag is the master's applied seq minus the worker's, 0 for the master,
// with no master, and for a record that shows a worker ahead.
func TestFillLag(t *testing.T) {
	ws := []api.WorkerInfo{
		{ID: "m", Role: election.RoleMaster, AppliedSeq: 100},
		{ID: "s1", Role: election.RoleSlave, AppliedSeq: 90},
		{ID: "s2", Role: election.RoleSlave, AppliedSeq: 105},
		{ID: "new", Role: election.RoleSlave, Lag: 7},
	}
	fillLag(ws)
	for i, want := range []uint64{0, 10, 0, 100} {
		if ws[i].Lag != want {
			t.Errorf("%s: lag %d, want %d", ws[i].ID, ws[i].Lag, want)
		}
	}
	noMaster := []api.WorkerInfo{{ID: "s", Role: election.RoleSlave, AppliedSeq: 5, Lag: 3}}
	fillLag(noMaster)
	if noMaster[0].Lag != 0 {
		t.Errorf("lag with no master = %d, want 0", noMaster[0].Lag)
	}
}
