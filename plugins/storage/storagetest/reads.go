package storagetest

// Contract tests of what reads see: Hash, Read, reads during applies.

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
)

func testHash(t *testing.T, open Opener) {
	a, b, c := open(t), open(t), open(t)
	fa, fb, fc := &feeder{t: t, s: a}, &feeder{t: t, s: b}, &feeder{t: t, s: c}
	writes := []dbapi.WriteRequest{
		User("alice", "pa"), User("bob", "pb"),
		Ride("alice", "01-01-2030:00-00-10", 1, 2), Ride("bob", "01-01-2030:00-00-11", 2, 3),
		Member(1, "bob"), Member(2, "alice"),
		{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"password": "pz"}, Where: map[string]any{"username": "bob"}},
	}
	for _, w := range writes {
		fa.must(w)
		fb.must(w)
	}
	// c gets the same content in another order, at other seqs and offsets
	for i := len(writes) - 1; i >= 0; i-- {
		w := writes[i]
		if w.Table == "rides" {
			w.Values = maps.Clone(w.Values)
			w.Values["ride_id"] = int64(i - 1) // 1 and 2, as above
		}
		if w.Op == dbapi.OpUpdate {
			continue
		}
		fc.must(w)
	}
	fc.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"password": "pz"}, Where: map[string]any{"username": "bob"}})
	fc.must(User("tmp", "x"))
	fc.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": "tmp"}})

	ha, hb, hc := mustHash(t, a), mustHash(t, b), mustHash(t, c)
	if ha != hb {
		t.Fatalf("same entries, different hashes: %s vs %s", ha, hb)
	}
	if ha != hc {
		t.Fatalf("same content in another order, different hashes: %s vs %s", ha, hc)
	}
	advance(t, b, 9, 999)
	if mustHash(t, b) != ha {
		t.Fatal("an empty batch changed the hash: it must cover data only")
	}
	fb.must(User("carol", "pc"))
	if mustHash(t, b) == ha {
		t.Fatal("one more insert, same hash")
	}
	fa.must(User("carol", "pc"))
	if mustHash(t, a) != mustHash(t, b) {
		t.Fatal("converged again, hashes differ")
	}
	fa.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"password": "changed"}, Where: map[string]any{"username": "carol"}})
	if mustHash(t, a) == mustHash(t, b) {
		t.Fatal("an update left the hash unchanged")
	}
	// a value moved between columns changes the hash (no ambiguous encoding)
	x, y := open(t), open(t)
	(&feeder{t: t, s: x}).must(User("ab", "c"))
	(&feeder{t: t, s: y}).must(User("a", "bc"))
	if mustHash(t, x) == mustHash(t, y) {
		t.Fatal("(ab,c) and (a,bc) hash alike")
	}
}

func testRead(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	for _, u := range []string{"dave", "alice", "carol", "bob"} {
		f.must(User(u, "pw-"+u))
	}
	f.must(Ride("alice", "03-01-2030:00-00-10", 1, 2)) // 1
	f.must(Ride("bob", "01-01-2030:00-00-10", 1, 2))   // 2
	f.must(Ride("alice", "02-01-2030:00-00-10", 1, 3)) // 3
	f.must(Ride("carol", "02-01-2030:00-00-10", 1, 2)) // 4
	f.must(Ride("dave", "05-01-2030:00-00-10", 9, 2))  // 5

	rows := mustRead(t, s, dbapi.ReadRequest{Table: "users", Columns: []string{"username"}})
	want := []map[string]any{{"username": "alice"}, {"username": "bob"}, {"username": "carol"}, {"username": "dave"}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("users (default: key order): %v, want %v", rows, want)
	}
	rows = mustRead(t, s, dbapi.ReadRequest{Table: "users", OrderBy: "username desc", Limit: 2})
	want = []map[string]any{{"username": "dave", "password": "pw-dave"}, {"username": "carol", "password": "pw-carol"}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("users desc limit 2: %v, want %v", rows, want)
	}
	rows = mustRead(t, s, dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id", "created_by"},
		Where: map[string]any{"source": int64(1), "destination": int64(2)}, OrderBy: "timestamp"})
	want = []map[string]any{
		{"ride_id": int64(2), "created_by": "bob"},
		{"ride_id": int64(4), "created_by": "carol"},
		{"ride_id": int64(1), "created_by": "alice"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rides 1->2 by timestamp: %v, want %v", rows, want)
	}
	rows = mustRead(t, s, dbapi.ReadRequest{Table: "rides", Where: map[string]any{"ride_id": int64(5)}})
	want = []map[string]any{{"ride_id": int64(5), "created_by": "dave", "timestamp": "05-01-2030:00-00-10", "source": int64(9), "destination": int64(2)}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("ride 5 (all columns, typed): %#v, want %#v", rows, want)
	}
	rows = mustRead(t, s, dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id"}, OrderBy: "source desc", Limit: 3})
	want = []map[string]any{{"ride_id": int64(5)}, {"ride_id": int64(1)}, {"ride_id": int64(2)}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rides by source desc, key tiebreak, limit 3: %v, want %v", rows, want)
	}
	rows = mustRead(t, s, dbapi.ReadRequest{Table: "rides", Where: map[string]any{"created_by": "nobody"}})
	if rows == nil || len(rows) != 0 {
		t.Fatalf("no match: %#v, want an empty, non-nil slice", rows)
	}
	// a read with plain ints (not validated) still works
	rows, err := s.Read(ctx(t), dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id"}, Where: map[string]any{"source": 9}})
	if err != nil || len(rows) != 1 {
		t.Fatalf("where with int: %v, %v", rows, err)
	}
}

func testConcurrent(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	f.must(User("alice", "pa"))
	const writes = 150
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	errc := make(chan error, 16)
	for r := 0; r < 6; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for !stop.Load() {
				rows, err := s.Read(context.Background(), dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id"}, OrderBy: "ride_id"})
				if err != nil {
					errc <- fmt.Errorf("read during applies: %w", err)
					return
				}
				if len(rows) < last {
					errc <- fmt.Errorf("rows went back from %d to %d", last, len(rows))
					return
				}
				last = len(rows)
				if _, err := s.State(context.Background()); err != nil {
					errc <- fmt.Errorf("state during applies: %w", err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() { // a hash now and then, also concurrent
		defer wg.Done()
		for !stop.Load() {
			if _, err := s.Hash(context.Background()); err != nil {
				errc <- fmt.Errorf("hash during applies: %w", err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for i := 0; i < writes; i++ {
		if o, err := f.apply(Ride("alice", "01-01-2030:00-00-10", int64(i%198+1), 2)); err != nil || Refused(o) != nil {
			if err == nil {
				err = Refused(o)
			}
			stop.Store(true)
			wg.Wait()
			t.Fatalf("apply %d during reads: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := count(t, s, "rides"); n != writes {
		t.Fatalf("rides = %d, want %d", n, writes)
	}
	if reads.Load() == 0 {
		t.Fatal("no read completed during the applies")
	}
	t.Logf("%d reads completed during %d applies", reads.Load(), writes)
}
