package storagetest

// Contract tests of what reads see: Hash, Read, reads during applies, and
// values bound rather than spliced into SQL.

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"
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

// testBound: values are bound parameters, never spliced into SQL. Values that
// mean something in SQL text or to a placeholder parser (`?`, `$1`, quotes,
// comments, dollar quoting, control characters) are stored and read back
// intact by every statement that carries values (insert, update, delete,
// where, limit, the write-id records), and a where matches them exactly:
// neither a near miss nor the same values in swapped columns.
func testBound(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	tricky := []string{
		`?`, `$1`, `?1 ?2 :name @p $2::text`, `'`, `''`, `"`, `' || '`, `\`,
		"ctl \x01\x1b\x1f\x7f\ttab\r\nnewline", `$$dollar quoted$$`, `E'\x41'`, `-- comment`, `/* c */`,
	}
	for i, v := range tricky {
		pw := fmt.Sprintf("%s pw-%d ? $1 '", v, i)
		f.must(User(v, pw))
		rows := mustRead(t, s, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": v}})
		if want := []map[string]any{{"username": v, "password": pw}}; !reflect.DeepEqual(rows, want) {
			t.Fatalf("read back %q: %q, want %q", v, rows, want)
		}
		for _, miss := range []string{v + " ", " " + v, v + "'", strings.ToUpper(v) + "x"} {
			if rows := mustRead(t, s, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": miss}}); len(rows) != 0 {
				t.Fatalf("where username = %q matched %q", miss, rows)
			}
		}
		pw2 := "$2 ? " + v
		if r := f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"password": pw2}, Where: map[string]any{"username": v}}); r.RowsAffected != 1 {
			t.Fatalf("update where username = %q: %d rows", v, r.RowsAffected)
		}
		rows = mustRead(t, s, dbapi.ReadRequest{Table: "users", Columns: []string{"password"}, Where: map[string]any{"username": v}})
		if want := []map[string]any{{"password": pw2}}; !reflect.DeepEqual(rows, want) {
			t.Fatalf("updated %q: %q, want %q", v, rows, want)
		}
	}
	if n := count(t, s, "users"); n != len(tricky) {
		t.Fatalf("users: %d rows, want %d", n, len(tricky))
	}

	// Two values in one statement: each placeholder binds its own value, so
	// the same values in swapped columns match nothing.
	a := f.must(Ride(`?`, `$1`, 1, 2)).ID
	b := f.must(Ride(`$1`, `?`, 1, 2)).ID
	for _, c := range []struct {
		by, ts string
		want   int64
	}{{`?`, `$1`, a}, {`$1`, `?`, b}} {
		rows := mustRead(t, s, dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id", "created_by", "timestamp"},
			Where: map[string]any{"created_by": c.by, "timestamp": c.ts}, OrderBy: "timestamp desc", Limit: 1})
		if want := []map[string]any{{"ride_id": c.want, "created_by": c.by, "timestamp": c.ts}}; !reflect.DeepEqual(rows, want) {
			t.Fatalf("ride by %q at %q: %q, want %q", c.by, c.ts, rows, want)
		}
	}

	// Write ids are values too (the records table).
	id := `w'?$1"` + "\x01"
	o, err := ApplyOne(ctx(t), s, Entry(f.seq+1, id, User("by-id", "p")), int64(f.seq+1)*10)
	if err != nil || Refused(o) != nil {
		t.Fatalf("apply write %q: %+v, %v", id, o, err)
	}
	f.seq++
	if r, ok, err := s.Lookup(ctx(t), id); err != nil || !ok || r != o.Result {
		t.Fatalf("Lookup(%q) = %+v, %v, %v; want %+v", id, r, ok, err, o.Result)
	}
	if _, ok, err := s.Lookup(ctx(t), `w'?$1"`); err != nil || ok {
		t.Fatalf("Lookup of a prefix of %q: found %v, %v", id, ok, err)
	}

	for _, v := range tricky {
		if r := f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": v}}); r.RowsAffected != 1 {
			t.Fatalf("delete where username = %q: %d rows", v, r.RowsAffected)
		}
	}
	if rows := mustRead(t, s, dbapi.ReadRequest{Table: "users", Columns: []string{"username"}}); !reflect.DeepEqual(rows, []map[string]any{{"username": "by-id"}}) {
		t.Fatalf("users left after the deletes: %q", rows)
	}
}
