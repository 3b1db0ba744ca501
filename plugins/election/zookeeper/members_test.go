package zookeeper

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// Join, Members and Update round-trip a record; Close removes it at once.
func TestMembersRoundTrip(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)

	a := open(t, root, options{})
	if err := a.Update(ctx, worker(11)); err == nil {
		t.Fatal("Update before Join succeeded")
	}
	ma := worker(11)
	if err := a.Join(ctx, ma); err != nil {
		t.Fatal(err)
	}
	b := joined(t, root, 7, options{})
	mb, _ := b.member()

	got, err := b.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []election.Member{mb, ma}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Members = %+v\nwant (sorted by pid) %+v", got, want)
	}

	ma.AppliedSeq, ma.Draining = 42, true
	if err := a.Update(ctx, ma); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, worker(99)); err == nil {
		t.Fatal("Update of another member's id succeeded")
	}
	got, _ = b.Members(ctx)
	if len(got) != 2 || got[1] != ma {
		t.Fatalf("after Update, Members = %+v, want w11 = %+v", got, ma)
	}

	a.Close()
	select {
	case <-a.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if _, err := a.Members(ctx); !errors.Is(err, ErrSessionLost) {
		t.Fatalf("Members after Close: err = %v, want ErrSessionLost", err)
	}
	got, _ = b.Members(ctx)
	if want := []election.Member{mb}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after w11 closed, Members = %+v, want %+v", got, want)
	}
}

// A worker restarted under the same id replaces its older incarnation's
// record at once; the older session can no longer write it.
func TestRejoinReplacesOlderSession(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)

	old := joined(t, root, 5, options{})
	restarted := open(t, root, options{})
	m := worker(5)
	m.AppliedSeq = 9
	if err := restarted.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Joining again from the same session just rewrites the record.
	m.AppliedSeq = 10
	if err := restarted.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := old.Update(ctx, worker(5)); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("Update from the replaced session: err = %v, want ErrNoNode", err)
	}
	got, _ := restarted.Members(ctx)
	if len(got) != 1 || got[0] != m {
		t.Fatalf("Members = %+v, want only %+v", got, m)
	}
	// Closing the old session must not take the new record with it.
	old.Close()
	got, _ = restarted.Members(ctx)
	if len(got) != 1 || got[0] != m {
		t.Fatalf("after old session closed, Members = %+v, want only %+v", got, m)
	}
}

// Remove deletes a member record; removing an absent one is fine.
func TestRemoveMember(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)
	a := joined(t, root, 1, options{})
	orch := open(t, root, options{})
	if err := orch.Remove(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := orch.Remove(ctx, "w1"); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if err := orch.Remove(ctx, "../x"); err == nil {
		t.Fatal("Remove of an invalid id succeeded")
	}
	if got, _ := orch.Members(ctx); len(got) != 0 {
		t.Fatalf("Members after Remove = %+v", got)
	}
	if err := a.Update(ctx, worker(1)); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("Update of a removed member: err = %v, want ErrNoNode", err)
	}
	if _, err := a.Campaign(ctx); err == nil {
		t.Fatal("a removed member campaigned successfully")
	}
}

// Progress is part of the member record: Join and Update write it, Members
// reads it back, and an Update without it (the member serves) clears it.
func TestMemberProgressRoundTrip(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)
	e := open(t, root, options{})
	m := worker(3)
	m.Progress = &election.Progress{Phase: election.PhaseLoadingSnapshot, Unit: "bytes", Done: 1 << 20, Total: 8 << 20, Rate: 524288.5}
	if err := e.Join(ctx, m); err != nil {
		t.Fatal(err)
	}
	wantMembers := func(want ...election.Member) {
		t.Helper()
		got, err := e.Members(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Members = %+v (%v), want %+v", got, err, want)
		}
	}
	wantMembers(m)

	m.Progress = &election.Progress{Phase: election.PhaseReplaying, Unit: "seqs", Done: 900, Total: 1000, Rate: 50}
	if err := e.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	wantMembers(m)

	m.Progress, m.Ready = nil, true
	if err := e.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	wantMembers(m)
}
