package storagetest

// The batch contract of Apply: one transaction per batch, one outcome per
// write, whatever happens to each write.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

func mustApply(t testing.TB, s storage.Storage, b storage.Batch) []storage.Outcome {
	t.Helper()
	outs, err := s.Apply(ctx(t), b)
	if err != nil {
		t.Fatalf("Apply of %d writes: %v", len(b.Writes), err)
	}
	if len(outs) != len(b.Writes) {
		t.Fatalf("Apply of %d writes answered %d outcomes", len(b.Writes), len(outs))
	}
	return outs
}

func wantOutcomes(t testing.TB, ws []replog.Entry, got, want []storage.Outcome) {
	t.Helper()
	for i := range want {
		wantOutcome(t, fmt.Sprintf("write %d (seq %d, id %q)", i, ws[i].Seq, ws[i].WriteID), got[i], want[i])
	}
}

// wantRecord checks Lookup(writeID): found with res, and refused as
// refusal says (nil: applied, ErrConstraint, or any *dbapi.InvalidError).
func wantRecord(t testing.TB, s storage.Storage, writeID string, res storage.Result, refusal error) {
	t.Helper()
	got, ok, err := s.Lookup(ctx(t), writeID)
	var errOK bool
	switch {
	case refusal == nil:
		errOK = err == nil
	case dbapi.IsInvalid(refusal):
		errOK = dbapi.IsInvalid(err)
	default:
		errOK = errors.Is(err, refusal)
	}
	if !ok || !errOK || got != res {
		t.Fatalf("Lookup(%q) = %+v, found %v, %v; want %+v, found, refused as %v", writeID, got, ok, err, res, refusal)
	}
}

func wantRows(t testing.TB, s storage.Storage, q dbapi.ReadRequest, want []map[string]any) {
	t.Helper()
	if rows := mustRead(t, s, q); !reflect.DeepEqual(rows, want) {
		t.Fatalf("read %s: %v, want %v", q.Table, rows, want)
	}
}

// testBatchMixed: good inserts, a conflict, an invalid write, a redelivery
// from an earlier batch and repeats inside the batch each get their own
// outcome, in one batch; State, data and records agree.
func testBatchMixed(t *testing.T, open Opener) {
	s := open(t)
	mustApply(t, s, storage.Batch{Writes: []replog.Entry{
		Entry(1, "w-alice", User("alice", "pa")),
		Entry(2, "w-ride1", Ride("alice", "01-01-2030:00-00-10", 1, 2)),
	}, Epoch: 1, Offset: 20})

	bad := Ride("bob", "01-01-2030:00-00-11", 1, 2)
	bad.Values["source"] = "north"
	ws := []replog.Entry{
		Entry(3, "b-bob", User("bob", "pb")),
		Entry(4, "b-dup", User("alice", "other")),                       // alice exists: 409
		Entry(5, "b-bad", bad),                                          // not an integer: 400
		Entry(6, "w-ride1", Ride("alice", "01-01-2030:00-00-10", 1, 2)), // from the first batch
		Entry(7, "b-ride", Ride("bob", "01-01-2030:00-00-12", 3, 4)),
		Entry(8, "b-bob", User("bob", "pb")), // repeated inside this batch
		Entry(9, "b-member", Member(2, "bob")),
		Entry(10, "b-dup", User("alice", "other")),
		Entry(11, "b-bad", bad),
		Entry(12, "", User("carol", "pc")), // no write id: applied, not recorded
	}
	for i := range ws {
		ws[i].Epoch = 2
	}
	outs := mustApply(t, s, storage.Batch{Writes: ws, Epoch: 2, Offset: 40})
	wantOutcomes(t, ws, outs, []storage.Outcome{
		{Result: storage.Result{Seq: 3, RowsAffected: 1}},
		{Result: storage.Result{Seq: 4}, Conflict: true},
		{Result: storage.Result{Seq: 5}, Invalid: "values.source"},
		{Result: storage.Result{Seq: 2, RowsAffected: 1, ID: 1}, Redelivered: true},
		{Result: storage.Result{Seq: 7, RowsAffected: 1, ID: 2}},
		{Result: storage.Result{Seq: 3, RowsAffected: 1}, Redelivered: true},
		{Result: storage.Result{Seq: 9, RowsAffected: 1}},
		{Result: storage.Result{Seq: 4}, Conflict: true, Redelivered: true},
		{Result: storage.Result{Seq: 5}, Invalid: "values.source", Redelivered: true},
		{Result: storage.Result{Seq: 12, RowsAffected: 1}},
	})
	if got := ws[4].Write.Values["ride_id"]; got != int64(2) {
		t.Fatalf("the generated ride id was not stored into the entry: %v (%T)", got, got)
	}
	if st := mustState(t, s); st != (storage.State{Seq: 12, Epoch: 2, Offset: 40, NextID: 3}) {
		t.Fatalf("State after the batch = %+v, want seq 12, epoch 2, offset 40, next_id 3", st)
	}

	// The data are exactly those of the applied writes, as a store fed only
	// them one by one has.
	ref := open(t)
	rf := &feeder{t: t, s: ref}
	for _, w := range []dbapi.WriteRequest{
		User("alice", "pa"), Ride("alice", "01-01-2030:00-00-10", 1, 2), User("bob", "pb"),
		Ride("bob", "01-01-2030:00-00-12", 3, 4), Member(2, "bob"), User("carol", "pc"),
	} {
		rf.must(w)
	}
	if mustHash(t, s) != mustHash(t, ref) {
		t.Fatal("hash differs from a store fed the applied writes only")
	}
	wantRows(t, s, dbapi.ReadRequest{Table: "users"}, []map[string]any{
		{"username": "alice", "password": "pa"}, {"username": "bob", "password": "pb"}, {"username": "carol", "password": "pc"}})
	wantRows(t, s, dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id", "created_by"}}, []map[string]any{
		{"ride_id": int64(1), "created_by": "alice"}, {"ride_id": int64(2), "created_by": "bob"}})
	wantRows(t, s, dbapi.ReadRequest{Table: "ride_users"}, []map[string]any{{"ride_id": int64(2), "username": "bob"}})

	wantRecord(t, s, "w-alice", storage.Result{Seq: 1, RowsAffected: 1}, nil)
	wantRecord(t, s, "w-ride1", storage.Result{Seq: 2, RowsAffected: 1, ID: 1}, nil)
	wantRecord(t, s, "b-bob", storage.Result{Seq: 3, RowsAffected: 1}, nil)
	wantRecord(t, s, "b-dup", storage.Result{Seq: 4}, storage.ErrConstraint)
	wantRecord(t, s, "b-bad", storage.Result{Seq: 5}, &dbapi.InvalidError{})
	wantRecord(t, s, "b-ride", storage.Result{Seq: 7, RowsAffected: 1, ID: 2}, nil)
	wantRecord(t, s, "b-member", storage.Result{Seq: 9, RowsAffected: 1}, nil)
}

// testBatchConflictInMiddle: conflicts (insert, explicit id, update of a
// key) in the middle of a batch undo only themselves; the writes before and
// after them (a key update among them) are applied, and the conflicts take
// no generated id.
func testBatchConflictInMiddle(t *testing.T, open Opener) {
	s := open(t)
	ts := "01-01-2030:00-00-10"
	dupRide := Ride("bob", ts, 9, 9)
	dupRide.Values["ride_id"] = int64(1)
	ws := []replog.Entry{
		Entry(1, "a", User("alice", "pa")),
		Entry(2, "b", User("bob", "pb")),
		Entry(3, "c", Ride("alice", ts, 1, 2)),
		Entry(4, "d", User("alice", "again")),
		Entry(5, "e", dupRide),
		Entry(6, "f", dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
			Values: map[string]any{"username": "alice"}, Where: map[string]any{"username": "bob"}}),
		Entry(7, "g", dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
			Values: map[string]any{"username": "bobby"}, Where: map[string]any{"username": "bob"}}),
		Entry(8, "h", User("carol", "pc")),
		Entry(9, "i", Ride("carol", ts, 5, 6)),
		Entry(10, "j", Member(2, "carol")),
	}
	outs := mustApply(t, s, storage.Batch{Writes: ws, Epoch: 1, Offset: 90})
	wantOutcomes(t, ws, outs, []storage.Outcome{
		{Result: storage.Result{Seq: 1, RowsAffected: 1}},
		{Result: storage.Result{Seq: 2, RowsAffected: 1}},
		{Result: storage.Result{Seq: 3, RowsAffected: 1, ID: 1}},
		{Result: storage.Result{Seq: 4}, Conflict: true},
		{Result: storage.Result{Seq: 5, ID: 1}, Conflict: true},
		{Result: storage.Result{Seq: 6}, Conflict: true},
		{Result: storage.Result{Seq: 7, RowsAffected: 1}},
		{Result: storage.Result{Seq: 8, RowsAffected: 1}},
		{Result: storage.Result{Seq: 9, RowsAffected: 1, ID: 2}},
		{Result: storage.Result{Seq: 10, RowsAffected: 1}},
	})
	if st := mustState(t, s); st != (storage.State{Seq: 10, Epoch: 1, Offset: 90, NextID: 3}) {
		t.Fatalf("State = %+v, want seq 10, epoch 1, offset 90, next_id 3", st)
	}
	wantRows(t, s, dbapi.ReadRequest{Table: "users"}, []map[string]any{
		{"username": "alice", "password": "pa"}, {"username": "bobby", "password": "pb"}, {"username": "carol", "password": "pc"}})
	wantRows(t, s, dbapi.ReadRequest{Table: "rides", Columns: []string{"ride_id", "created_by", "source"}}, []map[string]any{
		{"ride_id": int64(1), "created_by": "alice", "source": int64(1)}, {"ride_id": int64(2), "created_by": "carol", "source": int64(5)}})
	wantRows(t, s, dbapi.ReadRequest{Table: "ride_users"}, []map[string]any{{"ride_id": int64(2), "username": "carol"}})
	for _, id := range []string{"d", "e", "f"} {
		if _, ok, err := s.Lookup(ctx(t), id); !ok || !errors.Is(err, storage.ErrConstraint) {
			t.Fatalf("Lookup(%q) = %v, %v; want found, ErrConstraint", id, ok, err)
		}
	}
}

// testBatchEquivalence: a run of writes applied in one batch ends exactly as
// the same run applied one write per batch: outcomes, State, data, records.
func testBatchEquivalence(t *testing.T, open Opener) {
	ts := "01-01-2030:00-00-10"
	invalid := User("dave", "p")
	invalid.Values["age"] = int64(3)
	explicit := Ride("bob", ts, 4, 4)
	explicit.Values["ride_id"] = int64(7)
	writes := []dbapi.WriteRequest{
		User("alice", "pa"), User("bob", "pb"), Ride("alice", ts, 1, 2), Ride("bob", ts, 2, 3),
		Member(1, "bob"), User("alice", "x"), invalid, Member(1, "bob"), explicit, Ride("alice", ts, 5, 6),
		{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"password": "new"}, Where: map[string]any{"username": "bob"}},
		{Table: "ride_users", Op: dbapi.OpDelete, Where: map[string]any{"ride_id": int64(1)}},
		User("carol", "pc"),
		{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"username": "bobby"}, Where: map[string]any{"username": "bob"}},
		{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"username": "alice"}, Where: map[string]any{"username": "carol"}},
		User("dave", "pd"),
	}
	entries := func() []replog.Entry {
		es := make([]replog.Entry, len(writes))
		for i, w := range writes {
			es[i] = Entry(uint64(i+1), fmt.Sprintf("w-%d", i+1), w)
		}
		return es
	}
	one, all := open(t), open(t)
	var oneOuts []storage.Outcome
	for i, e := range entries() {
		o, err := ApplyOne(ctx(t), one, e, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		oneOuts = append(oneOuts, o)
	}
	allOuts := mustApply(t, all, storage.Batch{Writes: entries(), Epoch: 1, Offset: int64(len(writes))})
	if !reflect.DeepEqual(oneOuts, allOuts) {
		t.Fatalf("outcomes differ:\none per batch %+v\nin one batch  %+v", oneOuts, allOuts)
	}
	if a, b := snap(t, one), snap(t, all); a != b {
		t.Fatalf("one per batch %+v, in one batch %+v", a, b)
	}
	if st := mustState(t, all); st != (storage.State{Seq: 16, Epoch: 1, Offset: 16, NextID: 9}) {
		t.Fatalf("State = %+v", st)
	}
	var conflicts, invalids int
	for _, o := range allOuts {
		if o.Conflict {
			conflicts++
		}
		if o.Invalid != "" {
			invalids++
		}
	}
	if conflicts != 3 || invalids != 1 {
		t.Fatalf("%d conflicts and %d invalid writes, want 3 and 1: %+v", conflicts, invalids, allOuts)
	}
	for i := range writes {
		id := fmt.Sprintf("w-%d", i+1)
		r1, ok1, err1 := one.Lookup(ctx(t), id)
		r2, ok2, err2 := all.Lookup(ctx(t), id)
		if r1 != r2 || ok1 != ok2 || (err1 == nil) != (err2 == nil) || !ok1 {
			t.Fatalf("Lookup(%q): one per batch %+v %v %v, in one batch %+v %v %v", id, r1, ok1, err1, r2, ok2, err2)
		}
	}
}

// testBatchError: a batch that fails (cancelled context, an entry that is
// not a write, seqs that do not increase) commits nothing, not even the
// writes before the failure; the same writes then apply normally.
func testBatchError(t *testing.T, open Opener) {
	s := open(t)
	(&feeder{t: t, s: s}).must(User("alice", "pa"))
	before := snap(t, s)
	good := func() []replog.Entry {
		return []replog.Entry{
			Entry(2, "x-2", User("bob", "pb")),
			Entry(3, "x-3", Ride("bob", "01-01-2030:00-00-10", 1, 2)),
			Entry(4, "x-4", User("alice", "dup")),
		}
	}
	nothing := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: Apply succeeded", what)
		}
		t.Logf("%s: %v", what, err)
		if after := snap(t, s); after != before {
			t.Fatalf("%s: the failed batch changed the store: %+v -> %+v", what, before, after)
		}
		for _, id := range []string{"x-2", "x-3", "x-4"} {
			if _, ok, err := s.Lookup(ctx(t), id); ok || err != nil {
				t.Fatalf("%s: Lookup(%q) = %v, %v after a failed batch", what, id, ok, err)
			}
		}
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Apply(cancelled, storage.Batch{Writes: good(), Epoch: 1, Offset: 30})
	nothing("cancelled context", err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v, want context.Canceled", err)
	}

	_, err = s.Apply(ctx(t), storage.Batch{Writes: append(good(), replog.Entry{Kind: replog.EntryMark, Seq: 5, Epoch: 1}), Epoch: 1, Offset: 30})
	nothing("a mark among the writes", err)

	ws := good()
	ws[2].Seq = 3
	_, err = s.Apply(ctx(t), storage.Batch{Writes: ws, Epoch: 1, Offset: 30})
	nothing("a repeated seq", err)

	outs := mustApply(t, s, storage.Batch{Writes: good(), Epoch: 1, Offset: 30})
	wantOutcomes(t, good(), outs, []storage.Outcome{
		{Result: storage.Result{Seq: 2, RowsAffected: 1}},
		{Result: storage.Result{Seq: 3, RowsAffected: 1, ID: 1}},
		{Result: storage.Result{Seq: 4}, Conflict: true},
	})
	if st := mustState(t, s); st != (storage.State{Seq: 4, Epoch: 1, Offset: 30, NextID: 2}) {
		t.Fatalf("State = %+v", st)
	}
}

// testBatchCancelled cancels batches at different points while they are
// being applied (from before BEGIN to after COMMIT, spread over the time an
// uncancelled batch takes): each one is either committed whole or not at
// all.
func testBatchCancelled(t *testing.T, open Opener) {
	s := open(t)
	const n, rounds = 200, 16
	var seq uint64
	batch := func(round int) []replog.Entry {
		ws := make([]replog.Entry, n)
		for i := range ws {
			ws[i] = Entry(seq+uint64(i)+1, fmt.Sprintf("r%d-%d", round, i), User(fmt.Sprintf("u%02d-%03d", round, i), "p"))
		}
		return ws
	}
	start := time.Now()
	mustApply(t, s, storage.Batch{Writes: batch(-1), Epoch: 1, Offset: 0})
	took := time.Since(start)
	seq += n
	var failed, committed int
	for round := range rounds {
		before := snap(t, s)
		ws := batch(round)
		c, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(took*time.Duration(round)/(rounds-4), cancel)
		_, err := s.Apply(c, storage.Batch{Writes: ws, Epoch: 1, Offset: int64(round + 1)})
		timer.Stop()
		cancel()
		after := snap(t, s)
		_, first, _ := s.Lookup(ctx(t), ws[0].WriteID)
		_, last, _ := s.Lookup(ctx(t), ws[n-1].WriteID)
		if err != nil {
			failed++
			t.Logf("round %d: %v", round, err)
			if after != before || first || last {
				t.Fatalf("round %d: the batch failed (%v) but left changes: %+v -> %+v, records %v %v", round, err, before, after, first, last)
			}
			continue
		}
		committed++
		seq += n
		want := storage.State{Seq: seq, Epoch: 1, Offset: int64(round + 1), NextID: 1}
		if after.state != want || !first || !last || count(t, s, "users") != int(seq) {
			t.Fatalf("round %d: the batch succeeded but is not all there: %+v, records %v %v", round, after, first, last)
		}
	}
	t.Logf("a batch of %d writes takes %v: %d batches failed by the cancel, %d committed", n, took, failed, committed)
}
