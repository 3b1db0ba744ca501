package storagetest

import (
	"context"
	"testing"

	"github.com/rideshare/dbaas/plugins/storage"
)

// Lifecycle opens databases by worker id, so a test can reopen the same one,
// and tells whether a worker's database exists.
type Lifecycle struct {
	// Open opens (creating) the database of worker id. It must not register a
	// cleanup that fails when the test already destroyed the database.
	Open func(t *testing.T, id string) (storage.Storage, error)
	// Exists reports whether the database of worker id exists (file on disk,
	// row in pg_database).
	Exists func(t *testing.T, id string) bool
}

// RunLifecycle proves that Close keeps the data and State, that a reopen sees
// them, and that Destroy deletes the database.
func RunLifecycle(t *testing.T, id string, l Lifecycle) {
	t.Run("ReopenKeepsData", func(t *testing.T) {
		wid := id + "-reopen"
		s, err := l.Open(t, wid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Destroy(context.Background()) })
		f := &feeder{t: t, s: s}
		f.must(User("alice", "pa"))
		f.must(Ride("alice", "01-01-2030:00-00-10", 1, 2))
		advance(t, s, 2, 77)
		before := snap(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if !l.Exists(t, wid) {
			t.Fatal("Close deleted the database")
		}
		s2, err := l.Open(t, wid)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		t.Cleanup(func() { _ = s2.Destroy(context.Background()) })
		if after := snap(t, s2); after != before {
			t.Fatalf("reopen: %+v, want %+v", after, before)
		}
		want := storage.State{Seq: 2, Epoch: 2, Offset: 77, NextID: 2}
		if st := mustState(t, s2); st != want {
			t.Fatalf("reopened State = %+v, want %+v", st, want)
		}
		if res, ok, err := s2.Lookup(ctx(t), "w-2"); !ok || err != nil || res.ID != 1 {
			t.Fatalf("reopened Lookup = %+v, %v, %v", res, ok, err)
		}
		f2 := &feeder{t: t, s: s2, seq: 2}
		if r := f2.must(Ride("alice", "01-01-2030:00-00-11", 1, 2)); r.ID != 2 {
			t.Fatalf("ride after reopen got id %d, want 2", r.ID)
		}
	})
	t.Run("DestroyRemoves", func(t *testing.T) {
		wid := id + "-destroy"
		s, err := l.Open(t, wid)
		if err != nil {
			t.Fatal(err)
		}
		(&feeder{t: t, s: s}).must(User("alice", "pa"))
		if !l.Exists(t, wid) {
			t.Fatal("database does not exist after Open")
		}
		if err := s.Destroy(ctx(t)); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		if l.Exists(t, wid) {
			t.Fatal("database still exists after Destroy")
		}
		s2, err := l.Open(t, wid)
		if err != nil {
			t.Fatalf("open after Destroy: %v", err)
		}
		defer s2.Destroy(context.Background()) //nolint:errcheck
		if st := mustState(t, s2); st != (storage.State{Offset: -1, NextID: 1}) {
			t.Fatalf("State after Destroy and Open = %+v, want fresh", st)
		}
		if n := count(t, s2, "users"); n != 0 {
			t.Fatalf("data survived Destroy: %d users", n)
		}
	})
}
