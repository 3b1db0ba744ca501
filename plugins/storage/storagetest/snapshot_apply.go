package storagetest

// Export while Apply commits: the copy is exactly the store at the State it
// reports, and Apply is never held up by it.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// churnWrites is the number of writes of every churn batch.
const churnWrites = 8

// churn is the i-th batch (from 0) of a deterministic mix of writes: seqs
// i*churnWrites+1…, offset i+1. Applied in order to any fresh store, it
// always gives the same outcomes.
func churn(i int) storage.Batch {
	base := uint64(i * churnWrites)
	var ws []replog.Entry
	add := func(id string, w dbapi.WriteRequest) {
		ws = append(ws, Entry(base+uint64(len(ws))+1, id, w))
	}
	u := func(j int) string { return fmt.Sprintf("u%04d", j) }
	add(fmt.Sprintf("c%d-u", i), User(u(i), "p"))
	add(fmt.Sprintf("c%d-r", i), Ride(u(i), "01-01-2030:00-00-10", int64(i), int64(i+1)))
	add(fmt.Sprintf("c%d-m", i), Member(int64(i/2+1), u(i)))
	add(fmt.Sprintf("c%d-p", i), dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
		Values: map[string]any{"password": fmt.Sprint(i)}, Where: map[string]any{"username": u(i - 1)}})
	add(fmt.Sprintf("c%d-d", i), dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": u(i - 3)}})
	add(fmt.Sprintf("c%d-x", i), User(u(i), "dup"))                // a conflict
	add(fmt.Sprintf("c%d-u", i-1), User(u(i-1), "p"))              // a redelivery
	add("", dbapi.WriteRequest{Table: "rides", Op: dbapi.OpUpdate, // no record
		Values: map[string]any{"destination": int64(i)}, Where: map[string]any{"ride_id": int64(i/2 + 1)}})
	return storage.Batch{Writes: ws, Epoch: 1, Offset: int64(i + 1)}
}

// gateWriter holds its first Write until release is closed.
type gateWriter struct {
	w       io.Writer
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.release
	})
	return g.w.Write(p)
}

// testExportDoesNotBlockApply holds an Export in the middle of its first
// table (its writer does not take the bytes) while a batch commits: the
// batch commits at once, and the export is the store before it.
func testExportDoesNotBlockApply(t *testing.T, open Opener) {
	s := open(t)
	// Enough rows that the export writes (and blocks) before it has read
	// the first table whole.
	for i := range 6 {
		b := churn(i)
		b.Writes = b.Writes[:0]
		for j := range 500 {
			seq := uint64(i*500 + j + 1)
			b.Writes = append(b.Writes, Entry(seq, fmt.Sprintf("big-%d", seq), User(fmt.Sprintf("big-%05d", seq), fmt.Sprintf("%064d", seq))))
		}
		b.Offset = int64(i + 1)
		mustApply(t, s, b)
	}
	before := snap(t, s)
	gate := &gateWriter{w: &bytes.Buffer{}, started: make(chan struct{}), release: make(chan struct{})}
	type result struct {
		st  storage.State
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.Export(ctx(t), gate)
		done <- result{st, err}
	}()
	select {
	case <-gate.started:
	case r := <-done:
		t.Fatalf("Export ended without writing: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("Export wrote nothing in 30s")
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := []replog.Entry{
		Entry(before.state.Seq+1, "during-1", User("aaa-first", "p")),
		Entry(before.state.Seq+2, "during-2", dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": "big-02999"}}),
		Entry(before.state.Seq+3, "during-3", User("zzz-last", "p")),
	}
	start := time.Now()
	if _, err := s.Apply(c, storage.Batch{Writes: ws, Epoch: 1, Offset: 99}); err != nil {
		close(gate.release)
		t.Fatalf("Apply while an Export is open: %v (after %v)", err, time.Since(start))
	}
	took := time.Since(start)
	close(gate.release)
	r := <-done
	if r.err != nil {
		t.Fatalf("Export: %v", r.err)
	}
	t.Logf("a batch committed in %v while an Export was held", took)
	if r.st != before.state {
		t.Fatalf("Export reported State %+v, want the State before the batch %+v", r.st, before.state)
	}
	imp := open(t)
	mustImport(t, imp, gate.w.(*bytes.Buffer).Bytes())
	if got := snap(t, imp); got != before {
		t.Fatalf("the held Export imports as %+v, want the store before the batch %+v", got, before)
	}
}

// testExportDuringApply exports again and again while churn batches
// commit. Each export is compared with a reference store fed the same
// batches up to the seq it reports: same bytes (data, State, records), and
// imported it has the reference's Hash.
func testExportDuringApply(t *testing.T, open Opener) {
	const batches = 120
	s, ref, imp := open(t), open(t), open(t)
	applied := make(chan error, 1)
	go func() {
		for i := range batches {
			if _, err := s.Apply(ctx(t), churn(i)); err != nil {
				applied <- fmt.Errorf("batch %d: %w", i, err)
				return
			}
			time.Sleep(time.Millisecond)
		}
		applied <- nil
	}()
	type export struct {
		st   storage.State
		data []byte
	}
	var exps []export
	for running := true; running; {
		select {
		case err := <-applied:
			if err != nil {
				t.Fatal(err)
			}
			running = false // and one export more, of the end
		default:
		}
		data, st := mustExport(t, s)
		exps = append(exps, export{st, data})
		time.Sleep(3 * time.Millisecond) // a few batches between exports
	}
	var mid, next int
	for k, e := range exps {
		offset := int64(e.st.Seq / churnWrites) // batch i ends at offset i+1
		if e.st.Seq == 0 {
			offset = -1 // before the first batch
		}
		if e.st.Seq%churnWrites != 0 || e.st.Offset != offset {
			t.Fatalf("export %d at State %+v: not at the end of a batch", k, e.st)
		}
		for ; next*churnWrites < int(e.st.Seq); next++ {
			mustApply(t, ref, churn(next))
		}
		if e.st.Seq > 0 && e.st.Seq < batches*churnWrites {
			mid++
		}
		want, st := mustExport(t, ref)
		if st != e.st || !bytes.Equal(want, e.data) {
			t.Fatalf("export %d at seq %d differs from the store fed the same batches:\n%s\nwant:\n%s", k, e.st.Seq, e.data, want)
		}
		if k == 0 || k == len(exps)/2 || k == len(exps)-1 {
			if got := mustImport(t, imp, e.data); got != e.st {
				t.Fatalf("export %d imports at State %+v, want %+v", k, got, e.st)
			}
			if a, b := snap(t, imp), snap(t, ref); a != b {
				t.Fatalf("export %d imported: %+v, want %+v", k, a, b)
			}
		}
	}
	t.Logf("%d exports, %d of them while batches were committing", len(exps), mid)
	if mid == 0 {
		t.Fatal("no export ran while batches were committing")
	}
}
