package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// A leader cut off from ZooKeeper: the server expires its session and
// elects the next member. From the cut on, the old leader's Epoch never
// answers with its own (stale) epoch: it fails, and once the old leader
// hears of the expiry its Election is dead for good (no new session).
func TestFencingServerExpiry(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// lostAfter < 0: only the server's expiry notice ends the session, so
	// this test proves that path on its own.
	link := &partition{}
	old := joined(t, root, 1, options{dial: link.dial, lostAfter: -1})
	wins := make(chan win, 2)
	campaign(ctx, old, 1, wins)
	if w := nextWin(t, wins, 5*time.Second); w.err != nil || w.epoch != 1 {
		t.Fatalf("old leader: %+v, want epoch 1", w)
	}
	next := joined(t, root, 2, options{})
	campaign(ctx, next, 2, wins)

	// While the old leader is cut off, its fencing check fails.
	link.Cut()
	checks := make(chan error, 1)
	go func() {
		// Hammer Epoch until the successor wins: every answer must be an error.
		for {
			select {
			case <-ctx.Done():
				checks <- nil
				return
			default:
			}
			c, stop := context.WithTimeout(ctx, 3*time.Second)
			n, err := old.Epoch(c)
			stop()
			if err == nil {
				checks <- fmt.Errorf("Epoch answered %d while cut off from ZooKeeper", n)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	w := nextWin(t, wins, 15*time.Second)
	if w.err != nil || w.pid != 2 || w.epoch != 2 {
		t.Fatalf("after the old leader's session expired: %+v, want pid 2 epoch 2", w)
	}
	wantLeader(t, next, 2, 2)
	if n, err := old.Epoch(ctx); err == nil && n != 2 {
		t.Fatalf("old leader's Epoch = %d after a new leader was elected", n)
	}
	cancel()
	if err := <-checks; err != nil {
		t.Fatal(err)
	}

	// Reconnecting, it learns of the expiry: Done closes, everything fails,
	// and no new session is made behind the member's back.
	link.Heal()
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the server expired the session")
	}
	c := ctxT(t, 5*time.Second)
	if _, err := old.Epoch(c); !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Epoch after expiry: err = %v, want ErrSessionLost", err)
	}
	if err := old.Join(c, worker(1)); !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Join after expiry: err = %v, want ErrSessionLost", err)
	}
	time.Sleep(300 * time.Millisecond)
	if ms, _ := next.Members(c); len(ms) != 1 || ms[0].ID != "w2" {
		t.Fatalf("Members = %+v, want only w2", ms)
	}
	wantLeader(t, next, 2, 2)
}

// A leader that stays disconnected for the session timeout gives up by
// itself, before the server tells it (it might never hear back), and stays
// dead when the network returns.
func TestSessionLostAfterDisconnect(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 15*time.Second)
	old, link := leaderOnLink(t, ctx, root)
	watch, err := old.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	cut := time.Now()
	link.Cut()
	select {
	case <-old.Done():
		if d := time.Since(cut); d < testSessionTimeout {
			t.Fatalf("Done after %s, before the session timeout", d)
		}
	case <-time.After(testSessionTimeout + 2*time.Second):
		t.Fatal("Done not closed after being disconnected for the session timeout")
	}
	link.Heal()
	time.Sleep(1500 * time.Millisecond) // the client would have reconnected by now
	if _, err := old.Epoch(ctx); !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Epoch after the session was lost: err = %v, want ErrSessionLost", err)
	}
	for range watch {
	} // closed with the session

	// Its leader znode goes with the expired session; the next one wins.
	next := joined(t, root, 2, options{})
	epoch, err := next.Campaign(ctx)
	if err != nil || epoch != 2 {
		t.Fatalf("successor: epoch %d, %v; want 2", epoch, err)
	}
}

// A leader whose connection drops for less than the session timeout (a
// server killed, an ensemble electing) keeps its session, so its fencing
// check waits for the reconnect and answers its own epoch instead of failing:
// a blip must not make a master step down.
func TestEpochWaitsOutABlip(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 15*time.Second)
	link := &partition{}
	// A session longer than the tests' own: the cut outlasts go-zookeeper's
	// round of every server (it then fails the requests queued, ErrNoServer,
	// and waits a second), which a plain read would not survive.
	const session, blip = 6 * time.Second, 1500 * time.Millisecond
	cfg := election.Config{Servers: zkServers(), Root: root, SessionTimeout: session}
	leader, err := newElection(ctx, cfg, testLog(t.Name()), options{dial: link.dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leader.Close() })
	if err := leader.Join(ctx, worker(1)); err != nil {
		t.Fatal(err)
	}
	epoch, err := leader.Campaign(ctx)
	if err != nil || epoch != 1 {
		t.Fatalf("campaign: epoch %d, %v; want 1", epoch, err)
	}

	link.Cut()
	answer := make(chan error, 1)
	go func() {
		n, err := leader.Epoch(ctx)
		if err == nil && n != epoch {
			err = fmt.Errorf("Epoch = %d, want %d", n, epoch)
		}
		answer <- err
	}()
	time.Sleep(blip)
	select {
	case err := <-answer:
		t.Fatalf("Epoch answered while cut off (%v); it must wait for the reconnect", err)
	default:
	}
	link.Heal()
	select {
	case err := <-answer:
		if err != nil {
			t.Fatalf("Epoch across a %s blip: %v", blip, err)
		}
	case <-time.After(session):
		t.Fatal("Epoch did not answer after the connection came back")
	}
	select {
	case <-leader.Done():
		t.Fatal("the session was lost over a blip shorter than its timeout")
	default:
	}
	wantLeader(t, leader, 1, 1)
}

// A cut longer than the session timeout: the waiting Epoch fails with the
// session (ErrSessionLost), it never answers from before the cut.
func TestEpochFailsWithTheSession(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 15*time.Second)
	leader, link := leaderOnLink(t, ctx, root)
	link.Cut()
	start := time.Now()
	n, err := leader.Epoch(ctx)
	if err == nil {
		t.Fatalf("Epoch answered %d while cut off for good", n)
	}
	if !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Epoch cut off for good: err = %v, want ErrSessionLost", err)
	}
	if d := time.Since(start); d > testSessionTimeout+2*time.Second {
		t.Fatalf("Epoch failed after %s, want about the session timeout (%s)", d, testSessionTimeout)
	}
}

// leaderOnLink joins worker 1 over a link the test can cut and makes it the
// leader.
func leaderOnLink(t *testing.T, ctx context.Context, root string) (*Election, *partition) {
	t.Helper()
	link := &partition{}
	e := joined(t, root, 1, options{dial: link.dial})
	if _, err := e.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	return e, link
}
