package storagetest

// Contract tests of writes applied one per batch: results, generated ids,
// conflicts, records, bad input.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

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
		o, err := ApplyOne(ctx(t), s, e, int64(f.seq))
		if err != nil {
			t.Fatal(err)
		}
		wantOutcome(t, fmt.Sprintf("ride %d", want), o, storage.Outcome{Result: storage.Result{Seq: f.seq, RowsAffected: 1, ID: want}})
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
	// an existing explicit id is a conflict and does not move NextID
	w = Ride("bob", "01-01-2030:00-00-14", 3, 4)
	w.Values["ride_id"] = int64(100)
	f.must(w)
	w.Values["ride_id"] = int64(100)
	o := f.outcome(w)
	wantOutcome(t, "duplicate ride id", o, storage.Outcome{Result: storage.Result{Seq: f.seq, ID: 100}, Conflict: true})
	if st := mustState(t, s); st.NextID != 101 || st.Seq != f.seq {
		t.Fatalf("State = %+v, want seq %d, next_id 101", st, f.seq)
	}
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
		o := f.outcome(w)
		wantOutcome(t, fmt.Sprintf("%s %s %v", w.Op, w.Table, w.Values), o, storage.Outcome{Result: storage.Result{Seq: seq}, Conflict: true})
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
		t.Logf("%s %s: Lookup: %v", w.Op, w.Table, err)
	}
	// the store still works
	wantResult(t, "insert after errors", f.must(User("carol", "pc")), storage.Result{Seq: f.seq, RowsAffected: 1})
}

func testLookup(t *testing.T, open Opener) {
	s := open(t)
	e := Entry(1, "write-1", Ride("alice", "01-01-2030:00-00-10", 1, 2))
	o, err := ApplyOne(ctx(t), s, e, 5)
	if err != nil {
		t.Fatal(err)
	}
	r := o.Result
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
	again, err := ApplyOne(ctx(t), s, Entry(2, "write-1", Ride("alice", "01-01-2030:00-00-10", 1, 2)), 6)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "redelivered", again, storage.Outcome{Result: r, Redelivered: true})
	if mustHash(t, s) != hash || count(t, s, "rides") != 1 {
		t.Fatal("redelivered write was applied twice")
	}
	if st := mustState(t, s); st.Seq != 2 || st.Offset != 6 || st.NextID != 2 {
		t.Fatalf("State after redelivery = %+v, want seq 2, offset 6, next_id 2", st)
	}
	// an entry without write id is applied and not recorded
	if o, err := ApplyOne(ctx(t), s, Entry(3, "", User("anon", "p")), 7); err != nil || Refused(o) != nil {
		t.Fatal(o, err)
	}
	if _, ok, _ := s.Lookup(ctx(t), ""); ok {
		t.Fatal("empty write id found")
	}
	// an invalid write is recorded too: its redelivery is refused alike
	bad := Entry(4, "write-4", Ride("alice", "t", 1, 2))
	bad.Write.Values["destination"] = "far"
	o, err = ApplyOne(ctx(t), s, bad, 8)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "invalid", o, storage.Outcome{Result: storage.Result{Seq: 4}, Invalid: "destination"})
	res, ok, err := s.Lookup(ctx(t), "write-4")
	if !ok || !dbapi.IsInvalid(err) || res != (storage.Result{Seq: 4}) {
		t.Fatalf("Lookup of the invalid write = %+v, %v, %v; want found, an InvalidError, seq 4", res, ok, err)
	}
	bad = Entry(5, "write-4", Ride("alice", "t", 1, 2))
	bad.Write.Values["destination"] = "far"
	o, err = ApplyOne(ctx(t), s, bad, 9)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "invalid redelivered", o, storage.Outcome{Result: storage.Result{Seq: 4}, Invalid: "destination", Redelivered: true})
	if st := mustState(t, s); st != (storage.State{Seq: 5, Epoch: 1, Offset: 9, NextID: 2}) {
		t.Fatalf("State after an invalid write and its redelivery = %+v", st)
	}
}

// testEmptyBatch: a batch without writes moves Epoch (never down) and
// Offset only, and is safe to repeat; a batch with writes takes b.Epoch.
func testEmptyBatch(t *testing.T, open Opener) {
	s := open(t)
	advance(t, s, 3, 17)
	if st := mustState(t, s); st != (storage.State{Seq: 0, Epoch: 3, Offset: 17, NextID: 1}) {
		t.Fatalf("after an empty batch (3, 17): %+v", st)
	}
	for range 2 { // repeated: same state
		advance(t, s, 2, 18)
		if st := mustState(t, s); st != (storage.State{Seq: 0, Epoch: 3, Offset: 18, NextID: 1}) {
			t.Fatalf("an empty batch (2, 18) lowered the epoch or ignored the offset: %+v", st)
		}
	}
	e := Entry(1, "a", User("u", "p"))
	e.Epoch = 5
	if _, err := s.Apply(ctx(t), storage.Batch{Writes: []replog.Entry{e}, Epoch: 5, Offset: 19}); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, s); st != (storage.State{Seq: 1, Epoch: 5, Offset: 19, NextID: 1}) {
		t.Fatalf("after a batch at epoch 5: %+v", st)
	}
	e = Entry(2, "b", User("v", "p"))
	e.Epoch = 4
	if _, err := s.Apply(ctx(t), storage.Batch{Writes: []replog.Entry{e}, Epoch: 4, Offset: 20}); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, s); st != (storage.State{Seq: 2, Epoch: 5, Offset: 20, NextID: 1}) {
		t.Fatalf("a batch at epoch 4 lowered the epoch: %+v", st)
	}
	hash := mustHash(t, s)
	advance(t, s, 6, 21)
	if st := mustState(t, s); st != (storage.State{Seq: 2, Epoch: 6, Offset: 21, NextID: 1}) {
		t.Fatalf("an empty batch moved Seq or NextID: %+v", st)
	}
	if mustHash(t, s) != hash || count(t, s, "users") != 2 {
		t.Fatal("an empty batch changed the data")
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
		want, err := ApplyOne(ctx(t), master, e, int64(seq))
		if err != nil || Refused(want) != nil {
			t.Fatal(want, err)
		}
		wire, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var e1, e2 replog.Entry
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
			e replog.Entry
		}{{plain, e1}, {withNumber, e2}} {
			got, err := ApplyOne(ctx(t), r.s, r.e, int64(seq))
			if err != nil {
				t.Fatalf("entry %s from JSON: %v", wire, err)
			}
			wantOutcome(t, string(wire), got, want)
		}
	}
	h := mustHash(t, master)
	if mustHash(t, plain) != h || mustHash(t, withNumber) != h {
		t.Fatal("replicas fed JSON-decoded entries differ from the master")
	}
	e := Entry(99, "frac", Ride("alice", "t", 1, 2))
	e.Write.Values["source"] = 1.5
	o, err := ApplyOne(ctx(t), plain, e, 99)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, "fractional integer", o, storage.Outcome{Result: storage.Result{Seq: 99}, Invalid: "values.source"})
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
	mentions := []string{"table", "values.password)", "where.username = username", "op", "values.username", "values.source"}
	for i, w := range badWrites {
		seq := 1000 + uint64(i)
		o, err := ApplyOne(ctx(t), s, Entry(seq, fmt.Sprintf("bad-%d", i), w), 1000)
		if err != nil {
			t.Fatalf("Apply %+v: %v", w, err)
		}
		wantOutcome(t, fmt.Sprintf("Apply %+v", w), o, storage.Outcome{Result: storage.Result{Seq: seq}, Invalid: mentions[i]})
	}
	after := snap(t, s)
	want := before.state
	want.Seq, want.Offset = 1000+uint64(len(badWrites)-1), 1000
	if after.hash != before.hash || after.state != want {
		t.Fatalf("bad input changed the data or not only the log position: %+v -> %+v", before, after)
	}
}
