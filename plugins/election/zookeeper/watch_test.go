package zookeeper

import (
	"context"
	"testing"
	"time"
)

// Watch signals joins, leaves and leader changes, and closes with ctx.
func TestWatch(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	orch := open(t, root, options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := orch.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: watch channel closed", what)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: no watch signal", what)
		}
		// Let a burst settle, then drop what it left, so the next step
		// is judged by its own signal.
		time.Sleep(100 * time.Millisecond)
		select {
		case <-ch:
		default:
		}
	}

	a := joined(t, root, 1, options{})
	expect("join of w1")
	b := joined(t, root, 2, options{})
	expect("join of w2")
	if _, err := a.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	expect("w1 elected")
	// A record update is not a membership change.
	m := worker(2)
	m.AppliedSeq = 5
	if err := b.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("watch signalled a record update")
	case <-time.After(300 * time.Millisecond):
	}
	b.Close()
	expect("leave of w2")
	a.Close()
	expect("leave of the leader w1")

	cancel()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return // closed; a pending signal may come first
			}
		case <-deadline:
			t.Fatal("watch channel not closed after cancel")
		}
	}
}
