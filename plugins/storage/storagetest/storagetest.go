// Package storagetest is the contract test suite of storage.Storage. Every
// backend's tests call Run (the behaviour of one open store), RunSnapshot
// (Export, Import, the write-id window) and RunLifecycle (close/reopen/
// destroy of a named database), and may call the benchmarks.
//
// Files: storagetest.go has the helpers and Run; writes.go (one write per
// batch), batch.go (the batch contract), reads.go, snapshot.go (Export and
// Import; CopyBySnapshot across backends), snapshot_apply.go (Export while
// Apply commits) and prune.go (the write-id window) hold the contract tests,
// lifecycle.go RunLifecycle, bench.go the benchmarks.
package storagetest

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// Opener returns a fresh, empty store for one test; it registers its own
// cleanup (Destroy) with t.
type Opener func(t *testing.T) storage.Storage

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// Entry builds a write entry of epoch 1.
func Entry(seq uint64, writeID string, w dbapi.WriteRequest) replog.Entry {
	w.Values = maps.Clone(w.Values)
	w.Where = maps.Clone(w.Where)
	return replog.Entry{Kind: replog.EntryWrite, Seq: seq, Epoch: 1, WriteID: writeID, Write: &w}
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

// ApplyOne applies e as a batch of its own: the log read up to offset at
// e.Epoch.
func ApplyOne(ctx context.Context, s storage.Storage, e replog.Entry, offset int64) (storage.Outcome, error) {
	outs, err := s.Apply(ctx, storage.Batch{Writes: []replog.Entry{e}, Epoch: e.Epoch, Offset: offset})
	if err != nil {
		return storage.Outcome{}, err
	}
	if len(outs) != 1 {
		return storage.Outcome{}, fmt.Errorf("storage Apply of one write answered %d outcomes, want 1", len(outs))
	}
	return outs[0], nil
}

// Refused is a write's failure as an error (nil when it was applied): an
// error wrapping storage.ErrConstraint for a conflict, a *dbapi.InvalidError
// for an invalid write.
func Refused(o storage.Outcome) error {
	switch {
	case o.Conflict:
		return fmt.Errorf("seq %d: %w", o.Seq, storage.ErrConstraint)
	case o.Invalid != "":
		return &dbapi.InvalidError{Msg: o.Invalid}
	}
	return nil
}

// feeder applies entries with consecutive seqs and offsets, one per batch.
type feeder struct {
	t   testing.TB
	s   storage.Storage
	seq uint64
}

func (f *feeder) apply(w dbapi.WriteRequest) (storage.Outcome, error) {
	f.t.Helper()
	f.seq++
	return ApplyOne(ctx(f.t), f.s, Entry(f.seq, fmt.Sprintf("w-%d", f.seq), w), int64(f.seq)*10)
}

// outcome applies w and fails the test on an error of the batch.
func (f *feeder) outcome(w dbapi.WriteRequest) storage.Outcome {
	f.t.Helper()
	o, err := f.apply(w)
	if err != nil {
		f.t.Fatalf("apply %s %s seq %d: %v", w.Op, w.Table, f.seq, err)
	}
	return o
}

// must applies w and fails the test unless it was applied.
func (f *feeder) must(w dbapi.WriteRequest) storage.Result {
	f.t.Helper()
	o := f.outcome(w)
	if err := Refused(o); err != nil || o.Redelivered {
		f.t.Fatalf("apply %s %s seq %d: %+v (%v)", w.Op, w.Table, f.seq, o, err)
	}
	return o.Result
}

// advance applies a batch without writes.
func advance(t testing.TB, s storage.Storage, epoch uint64, offset int64) {
	t.Helper()
	outs, err := s.Apply(ctx(t), storage.Batch{Epoch: epoch, Offset: offset})
	if err != nil || len(outs) != 0 {
		t.Fatalf("Apply of an empty batch (epoch %d, offset %d) = %v, %v", epoch, offset, outs, err)
	}
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

// wantOutcome compares outcomes; an Invalid want is a substring of the
// message (which must name the field).
func wantOutcome(t testing.TB, what string, got, want storage.Outcome) {
	t.Helper()
	g := got
	if want.Invalid != "" && strings.Contains(got.Invalid, want.Invalid) {
		g.Invalid = want.Invalid
	}
	if g != want {
		t.Fatalf("%s: outcome %+v, want %+v", what, got, want)
	}
}

// Run runs the contract tests against fresh stores from open.
func Run(t *testing.T, open Opener) {
	t.Run("FreshState", func(t *testing.T) { testFresh(t, open) })
	t.Run("InsertUpdateDeleteClear", func(t *testing.T) { testCRUD(t, open) })
	t.Run("GeneratedIDs", func(t *testing.T) { testIDs(t, open) })
	t.Run("Constraint", func(t *testing.T) { testConstraint(t, open) })
	t.Run("LookupAndRedelivery", func(t *testing.T) { testLookup(t, open) })
	t.Run("EmptyBatch", func(t *testing.T) { testEmptyBatch(t, open) })
	t.Run("BatchMixed", func(t *testing.T) { testBatchMixed(t, open) })
	t.Run("BatchConflictInTheMiddle", func(t *testing.T) { testBatchConflictInMiddle(t, open) })
	t.Run("BatchEqualsOnePerBatch", func(t *testing.T) { testBatchEquivalence(t, open) })
	t.Run("BatchErrorCommitsNothing", func(t *testing.T) { testBatchError(t, open) })
	t.Run("BatchCancelledMidway", func(t *testing.T) { testBatchCancelled(t, open) })
	t.Run("EntryFromJSON", func(t *testing.T) { testJSON(t, open) })
	t.Run("Injection", func(t *testing.T) { testInjection(t, open) })
	t.Run("BoundValues", func(t *testing.T) { testBound(t, open) })
	t.Run("LongText", func(t *testing.T) { testLongText(t, open) })
	t.Run("Hash", func(t *testing.T) { testHash(t, open) })
	t.Run("Read", func(t *testing.T) { testRead(t, open) })
	t.Run("ConcurrentReads", func(t *testing.T) { testConcurrent(t, open) })
}

// RunSnapshot runs the contract tests of Export, Import and the write-id
// window against fresh stores from open. (Apart from Run so that a backend
// names them in a test of their own, e.g. TestSnapshotContract.)
func RunSnapshot(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) { testSnapshotRoundTrip(t, open) })
	t.Run("LongText", func(t *testing.T) { testSnapshotLongText(t, open) })
	t.Run("Refused", func(t *testing.T) { testSnapshotRefused(t, open) })
	t.Run("ExportDoesNotBlockApply", func(t *testing.T) { testExportDoesNotBlockApply(t, open) })
	t.Run("ExportDuringApply", func(t *testing.T) { testExportDuringApply(t, open) })
	t.Run("PruneWriteIDs", func(t *testing.T) { testPruneWriteIDs(t, open) })
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
