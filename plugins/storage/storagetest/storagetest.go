// Package storagetest is the contract test suite of storage.Storage. Every
// backend's tests call Run (the behaviour of one open store) and RunLifecycle
// (close/reopen/destroy of a named database), and may call the benchmarks.
package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Opener returns a fresh, empty store for one test; it registers its own
// cleanup (Destroy) with t.
type Opener func(t *testing.T) storage.Storage

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

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// Entry builds a write entry of epoch 1.
func Entry(seq uint64, writeID string, w dbapi.WriteRequest) dbapi.Entry {
	w.Values = maps.Clone(w.Values)
	w.Where = maps.Clone(w.Where)
	return dbapi.Entry{Kind: dbapi.EntryWrite, Seq: seq, Epoch: 1, WriteID: writeID, Write: &w}
}

// User is an insert into users.
func User(name, password string) dbapi.WriteRequest {
	return dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": name, "password": password}}
}

// Ride is an insert into rides without an id.
func Ride(by, ts string, src, dst int64) dbapi.WriteRequest {
	return dbapi.WriteRequest{Table: "rides", Op: dbapi.OpInsert, Values: map[string]any{
		"created_by": by, "timestamp": ts, "source": src, "destination": dst,
	}}
}

// Member is an insert into ride_users.
func Member(ride int64, user string) dbapi.WriteRequest {
	return dbapi.WriteRequest{Table: "ride_users", Op: dbapi.OpInsert, Values: map[string]any{"ride_id": ride, "username": user}}
}

// feeder applies entries with consecutive seqs and offsets.
type feeder struct {
	t   testing.TB
	s   storage.Storage
	seq uint64
}

func (f *feeder) apply(w dbapi.WriteRequest) (storage.Result, error) {
	f.t.Helper()
	f.seq++
	return f.s.Apply(ctx(f.t), Entry(f.seq, fmt.Sprintf("w-%d", f.seq), w), int64(f.seq)*10)
}

func (f *feeder) must(w dbapi.WriteRequest) storage.Result {
	f.t.Helper()
	r, err := f.apply(w)
	if err != nil {
		f.t.Fatalf("apply %s %s seq %d: %v", w.Op, w.Table, f.seq, err)
	}
	return r
}

func mustState(t testing.TB, s storage.Storage) storage.State {
	t.Helper()
	st, err := s.State(ctx(t))
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st
}

func mustHash(t testing.TB, s storage.Storage) string {
	t.Helper()
	h, err := s.Hash(ctx(t))
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return h
}

func mustRead(t testing.TB, s storage.Storage, q dbapi.ReadRequest) []map[string]any {
	t.Helper()
	if err := q.Validate(); err != nil {
		t.Fatalf("Validate %+v: %v", q, err)
	}
	rows, err := s.Read(ctx(t), q)
	if err != nil {
		t.Fatalf("Read %+v: %v", q, err)
	}
	return rows
}

func count(t testing.TB, s storage.Storage, table string) int {
	t.Helper()
	return len(mustRead(t, s, dbapi.ReadRequest{Table: table}))
}

func wantResult(t testing.TB, what string, got, want storage.Result) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: result %+v, want %+v", what, got, want)
	}
}

// Run runs the contract tests against fresh stores from open.
func Run(t *testing.T, open Opener) {
	t.Run("FreshState", func(t *testing.T) { testFresh(t, open) })
	t.Run("InsertUpdateDeleteClear", func(t *testing.T) { testCRUD(t, open) })
	t.Run("GeneratedIDs", func(t *testing.T) { testIDs(t, open) })
	t.Run("Constraint", func(t *testing.T) { testConstraint(t, open) })
	t.Run("LookupAndRedelivery", func(t *testing.T) { testLookup(t, open) })
	t.Run("Advance", func(t *testing.T) { testAdvance(t, open) })
	t.Run("EntryFromJSON", func(t *testing.T) { testJSON(t, open) })
	t.Run("Injection", func(t *testing.T) { testInjection(t, open) })
	t.Run("Hash", func(t *testing.T) { testHash(t, open) })
	t.Run("Read", func(t *testing.T) { testRead(t, open) })
	t.Run("ConcurrentReads", func(t *testing.T) { testConcurrent(t, open) })
}

func testFresh(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	want := storage.State{Seq: 0, Epoch: 0, Offset: -1, NextID: 1}
	if st := mustState(t, a); st != want {
		t.Fatalf("fresh State = %+v, want %+v", st, want)
	}
	if ha, hb := mustHash(t, a), mustHash(t, b); ha != hb || ha == "" {
		t.Fatalf("fresh hashes differ or empty: %q vs %q", ha, hb)
	}
	for _, tb := range dbapi.Schema {
		if n := count(t, a, tb.Name); n != 0 {
			t.Fatalf("fresh table %s has %d rows", tb.Name, n)
		}
	}
	if res, ok, err := a.Lookup(ctx(t), "nope"); ok || err != nil {
		t.Fatalf("Lookup on fresh store = %+v, %v, %v", res, ok, err)
	}
}

func testCRUD(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	wantResult(t, "insert alice", f.must(User("alice", "pa")), storage.Result{Seq: 1, RowsAffected: 1})
	wantResult(t, "insert bob", f.must(User("bob", "pb")), storage.Result{Seq: 2, RowsAffected: 1})
	wantResult(t, "insert carol", f.must(User("carol", "pc")), storage.Result{Seq: 3, RowsAffected: 1})

	r := f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
		Values: map[string]any{"password": "new"}, Where: map[string]any{"username": "alice"}})
	wantResult(t, "update alice", r, storage.Result{Seq: 4, RowsAffected: 1})
	r = f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
		Values: map[string]any{"password": "x"}, Where: map[string]any{"username": "nobody"}})
	wantResult(t, "update nobody", r, storage.Result{Seq: 5, RowsAffected: 0})
	rows := mustRead(t, s, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": "alice"}})
	if want := []map[string]any{{"username": "alice", "password": "new"}}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("after update: %v, want %v", rows, want)
	}

	r = f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": "bob"}})
	wantResult(t, "delete bob", r, storage.Result{Seq: 6, RowsAffected: 1})
	r = f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": "bob"}})
	wantResult(t, "delete bob again", r, storage.Result{Seq: 7, RowsAffected: 0})
	if n := count(t, s, "users"); n != 2 {
		t.Fatalf("users after delete: %d rows, want 2", n)
	}

	ride := f.must(Ride("alice", "01-01-2030:00-00-10", 1, 2))
	if ride.ID != 1 {
		t.Fatalf("first ride id %d, want 1", ride.ID)
	}
	f.must(Member(ride.ID, "carol"))
	// update with a multi-column where
	r = f.must(dbapi.WriteRequest{Table: "rides", Op: dbapi.OpUpdate,
		Values: map[string]any{"destination": int64(7), "timestamp": "02-01-2030:00-00-10"},
		Where:  map[string]any{"created_by": "alice", "source": int64(1)}})
	wantResult(t, "update ride", r, storage.Result{Seq: 10, RowsAffected: 1})

	// users 2 + rides 1 + ride_users 1
	r = f.must(dbapi.WriteRequest{Op: dbapi.OpClear})
	wantResult(t, "clear", r, storage.Result{Seq: 11, RowsAffected: 4})
	for _, tb := range dbapi.Schema {
		if n := count(t, s, tb.Name); n != 0 {
			t.Fatalf("after clear table %s has %d rows", tb.Name, n)
		}
	}
	st := mustState(t, s)
	if st.Seq != 11 || st.Offset != 110 || st.Epoch != 1 || st.NextID != 2 {
		t.Fatalf("State after clear = %+v, want seq 11, offset 110, epoch 1, next_id 2 (clear keeps the id counter)", st)
	}
	wantResult(t, "clear empty", f.must(dbapi.WriteRequest{Op: dbapi.OpClear}), storage.Result{Seq: 12, RowsAffected: 0})
}

func testIDs(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	for want := int64(1); want <= 3; want++ {
		w := Ride("alice", "01-01-2030:00-00-10", 1, 2)
		f.seq++
		e := Entry(f.seq, fmt.Sprintf("w-%d", f.seq), w)
		r, err := s.Apply(ctx(t), e, int64(f.seq))
		if err != nil {
			t.Fatal(err)
		}
		wantResult(t, fmt.Sprintf("ride %d", want), r, storage.Result{Seq: f.seq, RowsAffected: 1, ID: want})
		if got := e.Write.Values["ride_id"]; got != want {
			t.Fatalf("entry values carry ride_id %v (%T), want %d", got, got, want)
		}
	}
	if st := mustState(t, s); st.NextID != 4 {
		t.Fatalf("NextID = %d, want 4", st.NextID)
	}
	// an explicit id (as carried by a replicated entry) is used and advances NextID
	w := Ride("bob", "01-01-2030:00-00-11", 3, 4)
	w.Values["ride_id"] = int64(10)
	if r := f.must(w); r.ID != 10 {
		t.Fatalf("explicit id: result id %d, want 10", r.ID)
	}
	if st := mustState(t, s); st.NextID != 11 {
		t.Fatalf("NextID after explicit 10 = %d, want 11", st.NextID)
	}
	if r := f.must(Ride("bob", "01-01-2030:00-00-12", 3, 4)); r.ID != 11 {
		t.Fatalf("generated after explicit 10: %d, want 11", r.ID)
	}
	// a lower explicit id does not move NextID back
	w = Ride("bob", "01-01-2030:00-00-13", 3, 4)
	w.Values["ride_id"] = int64(5)
	f.must(w)
	if st := mustState(t, s); st.NextID != 12 {
		t.Fatalf("NextID after explicit 5 = %d, want 12", st.NextID)
	}
	rows := mustRead(t, s, dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id"}, OrderBy: "ride_id"})
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r["ride_id"].(int64))
	}
	if want := []int64{1, 2, 3, 5, 10, 11}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ride ids %v, want %v", ids, want)
	}
	// an existing explicit id is a constraint error and does not move NextID
	w = Ride("bob", "01-01-2030:00-00-14", 3, 4)
	w.Values["ride_id"] = int64(100)
	f.must(w)
	w.Values["ride_id"] = int64(100)
	if _, err := f.apply(w); !errors.Is(err, storage.ErrConstraint) {
		t.Fatalf("duplicate ride id: err %v, want ErrConstraint", err)
	}
	if st := mustState(t, s); st.NextID != 101 {
		t.Fatalf("NextID = %d, want 101", st.NextID)
	}
}

// snapshot is what must not change when a write is refused (bad input,
// constraint error).
type snapshot struct {
	hash  string
	state storage.State
}

func snap(t testing.TB, s storage.Storage) snapshot {
	t.Helper()
	return snapshot{mustHash(t, s), mustState(t, s)}
}

func testConstraint(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	f.must(User("alice", "pa"))
	f.must(User("bob", "pb"))
	f.must(Member(1, "alice"))

	cases := []dbapi.WriteRequest{
		User("alice", "other"),
		Member(1, "alice"),
		{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"username": "alice"}, Where: map[string]any{"username": "bob"}},
	}
	for _, w := range cases {
		before := snap(t, s)
		seq := f.seq + 1
		_, err := f.apply(w)
		if !errors.Is(err, storage.ErrConstraint) {
			t.Fatalf("%s %s %v: err %v, want ErrConstraint", w.Op, w.Table, w.Values, err)
		}
		t.Logf("%s %s: %v", w.Op, w.Table, err)
		if h := mustHash(t, s); h != before.hash {
			t.Fatalf("%s %s: data changed on a constraint error", w.Op, w.Table)
		}
		st := mustState(t, s)
		want := storage.State{Seq: seq, Epoch: 1, Offset: int64(seq) * 10, NextID: before.state.NextID}
		if st != want {
			t.Fatalf("State after constraint error = %+v, want %+v (advanced)", st, want)
		}
		res, ok, err := s.Lookup(ctx(t), fmt.Sprintf("w-%d", seq))
		if !ok || !errors.Is(err, storage.ErrConstraint) || res.Seq != seq || res.RowsAffected != 0 {
			t.Fatalf("Lookup of the rejected write = %+v, %v, %v; want found, ErrConstraint, seq %d, 0 rows", res, ok, err, seq)
		}
	}
	// the store still works
	wantResult(t, "insert after errors", f.must(User("carol", "pc")), storage.Result{Seq: f.seq, RowsAffected: 1})
}

func testLookup(t *testing.T, open Opener) {
	s := open(t)
	e := Entry(1, "write-1", Ride("alice", "01-01-2030:00-00-10", 1, 2))
	r, err := s.Apply(ctx(t), e, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Lookup(ctx(t), "write-1")
	if err != nil || !ok {
		t.Fatalf("Lookup: %v, %v", ok, err)
	}
	wantResult(t, "Lookup", got, r)
	if _, ok, err := s.Lookup(ctx(t), "write-2"); ok || err != nil {
		t.Fatalf("Lookup unknown: %v, %v", ok, err)
	}
	// a redelivered write id is answered from the record, never applied twice
	hash := mustHash(t, s)
	again, err := s.Apply(ctx(t), Entry(2, "write-1", Ride("alice", "01-01-2030:00-00-10", 1, 2)), 6)
	if err != nil {
		t.Fatal(err)
	}
	wantResult(t, "redelivered", again, r)
	if mustHash(t, s) != hash || count(t, s, "rides") != 1 {
		t.Fatal("redelivered write was applied twice")
	}
	if st := mustState(t, s); st.Seq != 2 || st.Offset != 6 || st.NextID != 2 {
		t.Fatalf("State after redelivery = %+v, want seq 2, offset 6, next_id 2", st)
	}
	// an entry without write id is applied and not recorded
	if _, err := s.Apply(ctx(t), Entry(3, "", User("anon", "p")), 7); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup(ctx(t), ""); ok {
		t.Fatal("empty write id found")
	}
}

func testAdvance(t *testing.T, open Opener) {
	s := open(t)
	if err := s.Advance(ctx(t), 3, 17); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, s); st != (storage.State{Seq: 0, Epoch: 3, Offset: 17, NextID: 1}) {
		t.Fatalf("after Advance(3,17): %+v", st)
	}
	if err := s.Advance(ctx(t), 2, 18); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, s); st.Epoch != 3 || st.Offset != 18 {
		t.Fatalf("Advance lowered the epoch or ignored the offset: %+v", st)
	}
	e := Entry(1, "a", User("u", "p"))
	e.Epoch = 5
	if _, err := s.Apply(ctx(t), e, 19); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, s); st != (storage.State{Seq: 1, Epoch: 5, Offset: 19, NextID: 1}) {
		t.Fatalf("after Apply at epoch 5: %+v", st)
	}
	e = Entry(2, "b", User("v", "p"))
	e.Epoch = 4
	if _, err := s.Apply(ctx(t), e, 20); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, s); st.Epoch != 5 || st.Seq != 2 {
		t.Fatalf("Apply lowered the epoch: %+v", st)
	}
}

// testJSON: an entry as a replica receives it from syncQ (decoded by
// encoding/json, numbers as float64 or json.Number) applies like the original.
func testJSON(t *testing.T, open Opener) {
	master, plain, withNumber := open(t), open(t), open(t)
	writes := []dbapi.WriteRequest{
		User("alice", "pa"),
		Ride("alice", "01-01-2030:00-00-10", 1, 2),
		Ride("alice", "01-01-2030:00-00-10", 3, 4),
		Member(2, "alice"),
		{Table: "rides", Op: dbapi.OpUpdate, Values: map[string]any{"source": int64(7)}, Where: map[string]any{"ride_id": int64(1)}},
		{Table: "ride_users", Op: dbapi.OpDelete, Where: map[string]any{"ride_id": int64(2)}},
	}
	for i, w := range writes {
		seq := uint64(i + 1)
		e := Entry(seq, fmt.Sprintf("w-%d", seq), w)
		want, err := master.Apply(ctx(t), e, int64(seq))
		if err != nil {
			t.Fatal(err)
		}
		wire, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var e1, e2 dbapi.Entry
		if err := json.Unmarshal(wire, &e1); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(wire))
		dec.UseNumber()
		if err := dec.Decode(&e2); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			s storage.Storage
			e dbapi.Entry
		}{{plain, e1}, {withNumber, e2}} {
			got, err := r.s.Apply(ctx(t), r.e, int64(seq))
			if err != nil {
				t.Fatalf("entry %s from JSON: %v", wire, err)
			}
			wantResult(t, string(wire), got, want)
		}
	}
	h := mustHash(t, master)
	if mustHash(t, plain) != h || mustHash(t, withNumber) != h {
		t.Fatal("replicas fed JSON-decoded entries differ from the master")
	}
	e := Entry(99, "frac", Ride("alice", "t", 1, 2))
	e.Write.Values["source"] = 1.5
	if _, err := plain.Apply(ctx(t), e, 99); !dbapi.IsInvalid(err) {
		t.Fatalf("fractional integer: err %v, want an InvalidError", err)
	}
}

func testInjection(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	evil := []string{
		`x'); DROP TABLE users; --`,
		`' OR '1'='1`,
		`"; DROP TABLE rides; --`,
		`\'; DELETE FROM users; --`,
		`back\slash \\ and \x00 text`,
		`?, $1, ?0, ?name`,
		"unicode ✓ — 日本語 \u2028 'quoted'",
		"",
	}
	for i, v := range evil {
		f.must(User(v, fmt.Sprintf("pw-%d-%s", i, v)))
	}
	r := f.must(Ride(evil[0], evil[1], 1, 2))
	f.must(Member(r.ID, evil[0]))
	for _, tb := range dbapi.Schema {
		count(t, s, tb.Name) // every table is still there
	}
	if n := count(t, s, "users"); n != len(evil) {
		t.Fatalf("users: %d rows, want %d", n, len(evil))
	}
	for i, v := range evil {
		rows := mustRead(t, s, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": v}})
		want := []map[string]any{{"username": v, "password": fmt.Sprintf("pw-%d-%s", i, v)}}
		if !reflect.DeepEqual(rows, want) {
			t.Fatalf("read back %q: %v, want %v", v, rows, want)
		}
	}
	rows := mustRead(t, s, dbapi.ReadRequest{Table: "rides", Where: map[string]any{"created_by": evil[0], "timestamp": evil[1]}})
	if len(rows) != 1 {
		t.Fatalf("ride by injection text: %v", rows)
	}
	// where values that look like SQL match nothing
	rows = mustRead(t, s, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": `nobody' OR '1'='1`}})
	if len(rows) != 0 {
		t.Fatalf("injected where matched %d rows", len(rows))
	}
	// names are never taken from the request: unknown ones are bad input
	before := snap(t, s)
	badReads := []dbapi.ReadRequest{
		{Table: "users; DROP TABLE users; --"},
		{Table: "users", Columns: []string{"username FROM users; DROP TABLE users; --"}},
		{Table: "users", Where: map[string]any{"1=1 OR username": "x"}},
		{Table: "users", OrderBy: "username; DROP TABLE users"},
		{Table: "users", Where: map[string]any{"username": int64(1)}},
	}
	for _, q := range badReads {
		if _, err := s.Read(ctx(t), q); !dbapi.IsInvalid(err) {
			t.Fatalf("Read %+v: err %v, want an InvalidError", q, err)
		}
	}
	badWrites := []dbapi.WriteRequest{
		{Table: "users; DROP TABLE users", Op: dbapi.OpInsert, Values: map[string]any{"username": "a", "password": "b"}},
		{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": "a", "password) VALUES ('x','y'); --": "b"}},
		{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username = username OR 1": "x"}},
		{Table: "users", Op: "drop"},
		{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": "nul\x00byte", "password": "b"}},
		{Table: "rides", Op: dbapi.OpInsert, Values: map[string]any{"created_by": "a", "timestamp": "b", "source": "1", "destination": int64(2)}},
	}
	for i, w := range badWrites {
		if _, err := s.Apply(ctx(t), Entry(1000+uint64(i), "bad", w), 1000); !dbapi.IsInvalid(err) {
			t.Fatalf("Apply %+v: err %v, want an InvalidError", w, err)
		}
	}
	if after := snap(t, s); after != before {
		t.Fatalf("bad input changed the store: %+v -> %+v", before, after)
	}
}

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
	if err := b.Advance(ctx(t), 9, 999); err != nil {
		t.Fatal(err)
	}
	if mustHash(t, b) != ha {
		t.Fatal("Advance changed the hash: it must cover data only")
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
		if _, err := f.apply(Ride("alice", "01-01-2030:00-00-10", int64(i%198+1), 2)); err != nil {
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
		if err := s.Advance(ctx(t), 2, 77); err != nil {
			t.Fatal(err)
		}
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
