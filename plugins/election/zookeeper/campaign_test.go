package zookeeper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// Three members campaign at once: the lowest pid wins epoch 1; when it goes,
// the next lowest wins epoch 2.
func TestLowestPIDWins(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	els := map[int]*Election{}
	for _, pid := range []int{300, 100, 200} {
		els[pid] = joined(t, root, pid, options{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wins := make(chan win, 3)
	for pid, e := range els {
		campaign(ctx, e, pid, wins)
	}

	w := nextWin(t, wins, 5*time.Second)
	if w.err != nil || w.pid != 100 || w.epoch != 1 {
		t.Fatalf("first win = %+v, want pid 100 epoch 1", w)
	}
	noWin(t, wins, 300*time.Millisecond) // nobody else while 100 leads
	wantLeader(t, els[300], 100, 1)
	ms, err := els[300].Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if want := map[bool]string{true: election.RoleMaster, false: election.RoleSlave}[m.PID == 100]; m.Role != want {
			t.Fatalf("member %s role %q, want %q", m.ID, m.Role, want)
		}
	}
	if e, err := els[100].Campaign(ctx); err != nil || e != 1 {
		t.Fatalf("Campaign again by the leader = %d, %v; want 1", e, err)
	}

	closed := time.Now()
	els[100].Close()
	w = nextWin(t, wins, 5*time.Second)
	if w.err != nil || w.pid != 200 || w.epoch != 2 {
		t.Fatalf("second win = %+v, want pid 200 epoch 2", w)
	}
	t.Logf("w200 took over %s after w100 closed", w.at.Sub(closed))
	wantLeader(t, els[300], 200, 2)
	if n, err := els[300].Epoch(ctx); err != nil || n != 2 {
		t.Fatalf("Epoch = %d, %v; want 2", n, err)
	}

	cancel()
	w = nextWin(t, wins, 2*time.Second)
	if w.pid != 300 || !errors.Is(w.err, context.Canceled) {
		t.Fatalf("after cancel: %+v, want pid 300 with context.Canceled", w)
	}
}

// Remove of the leader elects the next lowest at once, well inside the
// session timeout, and the removed leader's Epoch shows it was deposed.
func TestRemoveLeaderElectsNext(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lead := joined(t, root, 10, options{})
	next := joined(t, root, 20, options{})
	orch := open(t, root, options{})
	wins := make(chan win, 2)
	campaign(ctx, lead, 10, wins)
	if w := nextWin(t, wins, 5*time.Second); w.err != nil || w.pid != 10 || w.epoch != 1 {
		t.Fatalf("first win = %+v, want pid 10 epoch 1", w)
	}
	campaign(ctx, next, 20, wins)
	noWin(t, wins, 200*time.Millisecond)

	// Removing someone else leaves the leader alone.
	if err := orch.Remove(ctx, "w99"); err != nil {
		t.Fatal(err)
	}
	wantLeader(t, orch, 10, 1)

	removed := time.Now()
	if err := orch.Remove(ctx, "w10"); err != nil {
		t.Fatal(err)
	}
	w := nextWin(t, wins, testSessionTimeout)
	if w.err != nil || w.pid != 20 || w.epoch != 2 {
		t.Fatalf("after Remove, win = %+v, want pid 20 epoch 2", w)
	}
	if d := w.at.Sub(removed); d > time.Second {
		t.Fatalf("takeover took %s: it waited for something, not the watch", d)
	}
	wantLeader(t, orch, 20, 2)
	// The removed leader's session is alive, but its fencing check sees
	// the new epoch.
	if n, err := lead.Epoch(ctx); err != nil || n != 2 {
		t.Fatalf("removed leader's Epoch = %d, %v; want 2", n, err)
	}
}

// Draining members never win, and a waiting campaign notices when the member
// it defers to starts draining.
func TestDrainingNeverWins(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// w10 has the lowest pid but does not campaign: w20 must wait for it...
	w10 := joined(t, root, 10, options{})
	w20 := joined(t, root, 20, options{})
	wins := make(chan win, 4)
	campaign(ctx, w20, 20, wins)
	noWin(t, wins, 300*time.Millisecond)
	// ...until it starts draining.
	m := worker(10)
	m.Draining = true
	if err := w10.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	if w := nextWin(t, wins, 2*time.Second); w.err != nil || w.pid != 20 || w.epoch != 1 {
		t.Fatalf("win = %+v, want pid 20 epoch 1", w)
	}

	// The draining w10 campaigns: it never wins, not even when it is the
	// only member left.
	campaign(ctx, w10, 10, wins)
	noWin(t, wins, 300*time.Millisecond)
	w20.Close()
	noWin(t, wins, 700*time.Millisecond)
	if _, ok, err := w10.Leader(ctx); err != nil || ok {
		t.Fatalf("Leader with only a draining member: ok=%v err=%v", ok, err)
	}
	cancel()
	if w := nextWin(t, wins, 2*time.Second); !errors.Is(w.err, context.Canceled) {
		t.Fatalf("draining campaign ended with %+v, want context.Canceled", w)
	}
}

// Two members that both believe they should win claim at the same instant:
// exactly one leads, and the epoch advances by exactly one (the loser's
// attempt changes nothing: epoch bump and leader znode are one transaction).
func TestClaimIsAtomic(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	a := joined(t, root, 1, options{})
	b := joined(t, root, 2, options{})
	type result struct {
		pid   int
		epoch uint64
		ok    bool
		err   error
	}
	results := make(chan result, 2)
	start := make(chan struct{})
	for pid, e := range map[int]*Election{1: a, 2: b} {
		go func() {
			<-start
			epoch, ok, err := e.claim(worker(pid), nil)
			results <- result{pid, epoch, ok, err}
		}()
	}
	close(start)
	var winners []result
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("claim by w%d: %v", r.pid, r.err)
		}
		if r.ok {
			winners = append(winners, r)
		}
	}
	if len(winners) != 1 || winners[0].epoch != 1 {
		t.Fatalf("winners = %+v, want exactly one with epoch 1", winners)
	}
	ctx := ctxT(t, 5*time.Second)
	if n, err := a.Epoch(ctx); err != nil || n != 1 {
		t.Fatalf("Epoch = %d, %v; want 1", n, err)
	}
	wantLeader(t, a, winners[0].pid, 1)
}
