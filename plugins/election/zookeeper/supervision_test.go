package zookeeper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// supervise runs e.Supervise in the background; the channel gets its result.
func supervise(ctx context.Context, e *Election, id string) <-chan error {
	res := make(chan error, 1)
	go func() { res <- e.Supervise(ctx, id) }()
	return res
}

func wantSupervisor(t *testing.T, e *Election, id string) {
	t.Helper()
	got, ok, err := e.Supervisor(ctxT(t, 5*time.Second))
	if err != nil || !ok || got != id {
		t.Fatalf("Supervisor = %q ok=%v err=%v, want %q", got, ok, err, id)
	}
}

// TestSuperviseLine: the first contender holds the lock, the second waits
// and takes over the moment the holder's session closes; a contender that
// gives up leaves the line and never holds the lock.
func TestSuperviseLine(t *testing.T) {
	root := testRoot(t)
	a, b, c := open(t, root, options{}), open(t, root, options{}), open(t, root, options{})
	if _, ok, err := a.Supervisor(ctxT(t, 5*time.Second)); err != nil || ok {
		t.Fatalf("Supervisor before anyone supervises: ok=%v err=%v", ok, err)
	}
	if err := a.Supervise(ctxT(t, 5*time.Second), "orch-a"); err != nil {
		t.Fatal(err)
	}
	if err := a.Supervise(ctxT(t, 5*time.Second), "orch-a"); err != nil {
		t.Fatalf("Supervise again while holding: %v", err)
	}
	wantSupervisor(t, c, "orch-a")

	bRes := supervise(ctxT(t, 30*time.Second), b, "orch-b")
	// c, behind b in line, gives up: it must leave the line.
	cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Supervise(cctx, "orch-c"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Supervise past its deadline: want context.DeadlineExceeded, got %v", err)
	}
	select {
	case err := <-bRes:
		t.Fatalf("second contender returned while the first holds the lock: %v", err)
	case <-time.After(200 * time.Millisecond):
	}

	closed := time.Now()
	a.Close()
	select {
	case err := <-bRes:
		if err != nil {
			t.Fatalf("second contender: %v", err)
		}
		t.Logf("lock passed %v after the holder's session closed", time.Since(closed))
	case <-time.After(5 * time.Second):
		t.Fatal("second contender did not take the lock after the holder closed")
	}
	wantSupervisor(t, c, "orch-b")
	nodes, err := c.lockLine()
	if err != nil || len(nodes) != 1 {
		t.Fatalf("lock line = %+v, %v: want b's znode alone (c left the line)", nodes, err)
	}
	b.Close()
	waitUntil(t, "the lock to be free", 5*time.Second, func() bool {
		_, ok, err := c.Supervisor(ctxT(t, 5*time.Second))
		return err == nil && !ok
	})
}

// TestSuperviseExpiry: a holder cut off from ZooKeeper (a crash or a
// partition: its session is not closed) loses the lock when its session
// expires, and the waiting contender holds it within the session timeout
// plus a tick.
func TestSuperviseExpiry(t *testing.T) {
	root := testRoot(t)
	var p partition
	a := open(t, root, options{dial: p.dial, lostAfter: -1}) // only the server's expiry ends it
	b := open(t, root, options{})
	if err := a.Supervise(ctxT(t, 5*time.Second), "orch-a"); err != nil {
		t.Fatal(err)
	}
	bRes := supervise(ctxT(t, 30*time.Second), b, "orch-b")
	select {
	case err := <-bRes:
		t.Fatalf("second contender returned while the first holds the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cut := time.Now()
	p.Cut()
	select {
	case err := <-bRes:
		if err != nil {
			t.Fatalf("second contender: %v", err)
		}
		took := time.Since(cut)
		t.Logf("lock passed %v after the holder was cut off (session timeout %v)", took, testSessionTimeout)
		if took > 2*testSessionTimeout+2*time.Second {
			t.Errorf("takeover took %v, want within the session timeout (%v) and a tick", took, testSessionTimeout)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("second contender did not take the lock after the holder's session expired")
	}
	wantSupervisor(t, b, "orch-b")
}

// TestSuperviseSameID: two sessions with one id wait in line like any two;
// only one holds, and the lock passes with the session, not the id.
func TestSuperviseSameID(t *testing.T) {
	root := testRoot(t)
	a, b := open(t, root, options{}), open(t, root, options{})
	if err := a.Supervise(ctxT(t, 5*time.Second), "orch"); err != nil {
		t.Fatal(err)
	}
	bRes := supervise(ctxT(t, 30*time.Second), b, "orch")
	select {
	case err := <-bRes:
		t.Fatalf("a second session with the same id took the lock while the first holds it: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	a.Close()
	select {
	case err := <-bRes:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second session did not take the lock")
	}
	wantSupervisor(t, b, "orch")
}

// TestSuperviseSessionLost: a contender whose session is lost while it waits
// gets ErrSessionLost.
func TestSuperviseSessionLost(t *testing.T) {
	root := testRoot(t)
	a, b := open(t, root, options{}), open(t, root, options{})
	if err := a.Supervise(ctxT(t, 5*time.Second), "orch-a"); err != nil {
		t.Fatal(err)
	}
	bRes := supervise(ctxT(t, 30*time.Second), b, "orch-b")
	time.Sleep(200 * time.Millisecond)
	b.Close()
	select {
	case err := <-bRes:
		if !errors.Is(err, election.ErrSessionLost) {
			t.Fatalf("Supervise on a lost session: want ErrSessionLost, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Supervise still blocked after its session closed")
	}
	wantSupervisor(t, a, "orch-a")
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
