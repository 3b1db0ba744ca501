package storagetest

// The write-id window (storage.WriteIDWindow): a record is answered from
// while its seq is within the window below the newest, and forgotten after,
// whenever its row is actually deleted, and alike after an Import.

import (
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

func testPruneWriteIDs(t *testing.T, open Opener) {
	const w = storage.WriteIDWindow
	s := open(t)
	batch := func(ws ...replog.Entry) []storage.Outcome {
		t.Helper()
		return mustApply(t, s, storage.Batch{Writes: ws, Epoch: 1, Offset: int64(ws[len(ws)-1].Seq)})
	}
	found := func(id string, want bool) {
		t.Helper()
		if _, ok, err := s.Lookup(ctx(t), id); ok != want || err != nil {
			t.Fatalf("Lookup(%q) = found %v, %v; want found %v (State %+v)", id, ok, err, want, mustState(t, s))
		}
	}
	// Seqs jump (Apply asks only that they increase): the window is
	// crossed without 20000 writes.
	batch(Entry(1, "a", User("a", "p")), Entry(100, "b", User("b", "p")), Entry(1500, "c", User("c", "p")))
	batch(Entry(w, "d", User("d", "p")))
	for _, id := range []string{"a", "b", "c", "d"} {
		found(id, true) // a: 1 > w-w
	}
	batch(Entry(w+1, "e", User("e", "p")))
	found("a", false) // 1 <= (w+1)-w
	found("b", true)

	// Inside one batch the window moves with every write: b is a
	// redelivery at w+99 (newest w+1), forgotten once seq w+100 is applied.
	outs := batch(Entry(w+99, "b", User("b", "p")), Entry(w+100, "f", User("f", "p")))
	if !outs[0].Redelivered || outs[0].Seq != 100 {
		t.Fatalf("b within the window: %+v, want its recorded outcome", outs[0])
	}
	found("b", false)
	outs = batch(Entry(w+1499, "x", User("x", "p")), Entry(w+1500, "c", User("c", "p")), Entry(w+1501, "c", User("c", "p")))
	if !outs[1].Redelivered || outs[1].Seq != 1500 {
		t.Fatalf("c at the window's last seq: %+v, want its recorded outcome", outs[1])
	}
	// at w+1501 the newest is w+1500: c (1500) is out, so c is applied
	// again (a conflict: user c exists) and recorded anew
	if outs[2].Redelivered || !outs[2].Conflict || outs[2].Seq != w+1501 {
		t.Fatalf("c out of the window: %+v, want it applied again", outs[2])
	}
	if r, ok, _ := s.Lookup(ctx(t), "c"); !ok || r.Seq != w+1501 {
		t.Fatalf("Lookup(c) = %+v, %v; want the new record", r, ok)
	}
	// A forgotten write id is applied again: user a was deleted meanwhile.
	batch(Entry(w+1502, "del-a", dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": "a"}}))
	outs = batch(Entry(w+1503, "a", User("a", "p")))
	if outs[0].Redelivered || outs[0].RowsAffected != 1 {
		t.Fatalf("a forgotten write id: %+v, want applied", outs[0])
	}

	// Far ahead: every old record is pruned, and an Import answers alike.
	batch(Entry(3*w, "late", User("late", "p")))
	for _, id := range []string{"a", "c", "d", "e", "f", "x", "del-a"} {
		found(id, false)
	}
	found("late", true)
	data, _ := mustExport(t, s)
	imp := open(t)
	mustImport(t, imp, data)
	sameStore(t, s, imp, []string{"a", "b", "c", "d", "late"})
}
