package zookeeper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// A handover gives the lead to its target, not to the lowest pid, with a
// new epoch; the member that handed over is a slave and does not win back
// while the target leads; the reservation is gone once the target won.
func TestHandoverElectsTarget(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	els := map[int]*Election{}
	for _, pid := range []int{100, 200, 300} {
		els[pid] = joined(t, root, pid, options{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wins := make(chan win, 4)
	for pid, e := range els {
		campaign(ctx, e, pid, wins)
	}
	if w := nextWin(t, wins, 5*time.Second); w.err != nil || w.pid != 100 || w.epoch != 1 {
		t.Fatalf("first win = %+v, want pid 100 epoch 1", w)
	}
	if err := els[100].Handover(ctx, "w300"); err != nil {
		t.Fatalf("Handover to w300: %v", err)
	}
	if w := nextWin(t, wins, 5*time.Second); w.err != nil || w.pid != 300 || w.epoch != 2 {
		t.Fatalf("win after the handover = %+v, want pid 300 epoch 2", w)
	}
	campaign(ctx, els[100], 100, wins) // the old master campaigns again, as a slave
	noWin(t, wins, 300*time.Millisecond)
	wantLeader(t, els[200], 300, 2)
	ms, err := els[200].Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if want := map[bool]string{true: election.RoleMaster, false: election.RoleSlave}[m.PID == 300]; m.Role != want {
			t.Fatalf("member %s role %q, want %q", m.ID, m.Role, want)
		}
	}
	if ok, _, err := els[200].conn.Exists(els[200].handoverPath); err != nil || ok {
		t.Fatalf("reservation after the target won: exists=%v err=%v, want gone", ok, err)
	}
}

// Handover refuses what it cannot do, and changes nothing then.
func TestHandoverRefuses(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	lead := joined(t, root, 10, options{})
	other := joined(t, root, 20, options{})
	drainer := joined(t, root, 30, options{})
	ctx := ctxT(t, 10*time.Second)
	m := worker(30)
	m.Draining = true
	if err := drainer.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := other.Handover(ctx, "w10"); !errors.Is(err, election.ErrNotLeader) {
		t.Fatalf("Handover before any lead: want ErrNotLeader, got %v", err)
	}
	if e, err := lead.Campaign(ctx); err != nil || e != 1 {
		t.Fatalf("Campaign = %d, %v", e, err)
	}
	for to, want := range map[string]error{"w99": election.ErrNoMember, "w30": election.ErrNoMember} {
		if err := lead.Handover(ctx, to); !errors.Is(err, want) {
			t.Fatalf("Handover to %s: want %v, got %v", to, want, err)
		}
	}
	if err := lead.Handover(ctx, "w10"); err == nil {
		t.Fatal("Handover to itself succeeded")
	}
	if err := other.Handover(ctx, "w30"); !errors.Is(err, election.ErrNotLeader) {
		t.Fatalf("Handover by a slave: want ErrNotLeader, got %v", err)
	}
	wantLeader(t, other, 10, 1)
}

// A reservation binds only while its target is live and for its lifetime:
// a target that dies, or never claims, leaves the lead to the lowest pid.
func TestHandoverTargetGoneOrLate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		gone bool
	}{{"target dies", true}, {"target never claims", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := testRoot(t)
			lead := joined(t, root, 10, options{})
			lead.handoverTimeout = time.Second
			target := joined(t, root, 20, options{})
			ctx := ctxT(t, 20*time.Second)
			if _, err := lead.Campaign(ctx); err != nil {
				t.Fatal(err)
			}
			if err := lead.Handover(ctx, "w20"); err != nil {
				t.Fatal(err)
			}
			wins := make(chan win, 1)
			campaign(ctx, lead, 10, wins)        // the target itself never campaigns
			noWin(t, wins, 300*time.Millisecond) // the reservation binds
			if c.gone {
				target.Close()
			}
			if w := nextWin(t, wins, 10*time.Second); w.err != nil || w.pid != 10 || w.epoch != 2 {
				t.Fatalf("win = %+v, want pid 10 epoch 2", w)
			}
		})
	}
}
