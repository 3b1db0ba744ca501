package pluginhost

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

func insertUser(seq uint64, name string) replog.Entry {
	return replog.Entry{Kind: replog.EntryWrite, Seq: seq, Epoch: 1, WriteID: "w-" + name,
		Write: &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": name, "password": strings.Repeat("a", 40)}}}
}

func insertRide(seq uint64, by string) replog.Entry {
	return replog.Entry{Kind: replog.EntryWrite, Seq: seq, Epoch: 1, WriteID: fmt.Sprintf("r-%s-%d", by, seq),
		Write: &dbapi.WriteRequest{Table: "rides", Op: dbapi.OpInsert, Values: map[string]any{
			"created_by": by, "timestamp": "01-01-2030:00-00-10", "source": int64(3), "destination": int64(7)}}}
}

// TestStorageRoundTrip calls every Storage method through the plugin and the
// same operations on an in-process instance: results, rows and hashes agree.
func TestStorageRoundTrip(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	st, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "w1", DataDir: dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	local, err := openMemStorage(ctx, storage.Config{WorkerID: "local"})
	if err != nil {
		t.Fatal(err)
	}

	s0, err := st.State(ctx)
	if err != nil || s0 != (storage.State{Offset: -1, NextID: 1}) {
		t.Fatalf("initial State = %+v, %v", s0, err)
	}

	for i, e := range []replog.Entry{insertUser(1, "alice"), insertRide(2, "alice")} {
		b := storage.Batch{Writes: []replog.Entry{e}, Epoch: 1, Offset: int64(10 + i)}
		got, err := st.Apply(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := local.Apply(ctx, cloneBatch(b))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Apply %d through the plugin = %+v, in process = %+v", i, got, want)
		}
	}
	res, ok, err := st.Lookup(ctx, "r-alice-2")
	if err != nil || !ok || res.ID != 1 || res.Seq != 2 {
		t.Fatalf("Lookup = %+v %v %v", res, ok, err)
	}
	if _, ok, err := st.Lookup(ctx, "never"); err != nil || ok {
		t.Fatalf("Lookup of an unknown write = %v %v", ok, err)
	}

	// One batch with every kind of outcome: a conflict (which still takes
	// its seq), an invalid write, a redelivery, and a new ride whose id is
	// stored into the caller's entry as an in-process Apply stores it.
	dup := insertUser(3, "alice")
	dup.WriteID = "w-alice-again"
	bad := insertRide(4, "bob")
	bad.Write.Values["source"] = "north"
	ride := insertRide(6, "alice")
	b := storage.Batch{Writes: []replog.Entry{dup, bad, insertUser(5, "alice"), ride}, Epoch: 2, Offset: 12}
	want, err := local.Apply(ctx, cloneBatch(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Apply(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mixed batch through the plugin = %+v, in process = %+v", got, want)
	}
	if !got[0].Conflict || !strings.Contains(got[1].Invalid, "values.source") || !got[2].Redelivered || got[2].Seq != 1 || got[3].ID != 2 {
		t.Fatalf("mixed batch outcomes = %+v", got)
	}
	if id := ride.Write.Values["ride_id"]; id != int64(2) {
		t.Fatalf("the generated id did not come back into the entry: %#v", id)
	}
	if _, ok, err := st.Lookup(ctx, "w-alice-again"); !ok || !errors.Is(err, storage.ErrConstraint) {
		t.Fatalf("Lookup of the conflict = %v, %v; want found, storage.ErrConstraint", ok, err)
	}
	if _, ok, err := st.Lookup(ctx, bad.WriteID); !ok || !dbapi.IsInvalid(err) {
		t.Fatalf("Lookup of the invalid write = %v, %v; want found, an InvalidError", ok, err)
	}

	// A batch without writes moves Epoch and Offset only.
	if outs, err := st.Apply(ctx, storage.Batch{Epoch: 4, Offset: 13}); err != nil || len(outs) != 0 {
		t.Fatalf("empty batch = %v, %v", outs, err)
	}
	_, _ = local.Apply(ctx, storage.Batch{Epoch: 4, Offset: 13})
	s, err := st.State(ctx)
	if err != nil || s != (storage.State{Seq: 6, Epoch: 4, Offset: 13, NextID: 3}) {
		t.Fatalf("State after the batches = %+v, %v", s, err)
	}

	q := dbapi.ReadRequest{Table: "rides", Where: map[string]any{"source": int64(3)}}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Read(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	lrows, _ := local.Read(ctx, q)
	if !reflect.DeepEqual(rows, lrows) || len(rows) != 2 {
		t.Fatalf("Read through the plugin = %#v, in process = %#v", rows, lrows)
	}
	if id, ok := rows[0]["ride_id"].(int64); !ok || id != 1 {
		t.Fatalf("ride_id = %#v, want int64 1", rows[0]["ride_id"])
	}

	// Bad input keeps its type (the DB API answers it with 400).
	_, err = st.Read(ctx, dbapi.ReadRequest{Table: "nope"})
	var inv *dbapi.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(inv.Msg, "nope") {
		t.Fatalf("Read of an unknown table: want *dbapi.InvalidError, got %T %v", err, err)
	}

	h, err := st.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lh, _ := local.Hash(ctx); h != lh || h == "" {
		t.Fatalf("Hash through the plugin %q != in process %q", h, lh)
	}

	// Close ends the plugin process; Destroy of a second one deletes its data.
	pid := st.(*storageClient).sup.pid()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plugin process to exit after Close", 5*time.Second, func() bool { return !alive(pid) })
	if _, err := st.State(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("State after Close: want ErrClosed, got %v", err)
	}

	st2, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "w1", DataDir: dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := st2.State(ctx); s2 != s {
		t.Fatalf("re-opened State = %+v, want %+v", s2, s)
	}
	if err := st2.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "w1.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Destroy left the data: %v", err)
	}
}

// TestStorageRestart kills the storage plugin between calls and during one:
// both calls succeed on a restarted process that re-opened the same database.
func TestStorageRestart(t *testing.T) {
	opts, logs := testOptions(t)
	ctx := testCtx(t)
	var restarted = make(chan string, 4)
	opts.OnRestart = func(kind, name string) { restarted <- kind + "/" + name }
	st, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "w1", DataDir: t.TempDir(), Options: map[string]string{"read_delay": "300ms"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Apply(ctx, storage.Batch{Writes: []replog.Entry{insertUser(1, "bob")}, Epoch: 1, Offset: 0}); err != nil {
		t.Fatal(err)
	}
	sup := st.(*storageClient).sup

	// Between calls.
	old := sup.pid()
	sigkill(t, old)
	s, err := st.State(ctx)
	if err != nil || s.Seq != 1 {
		t.Fatalf("State after the plugin was killed = %+v, %v", s, err)
	}
	if sup.pid() == old {
		t.Fatal("plugin not restarted")
	}
	select {
	case got := <-restarted:
		if got != "storage/mem" {
			t.Fatalf("OnRestart(%s)", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnRestart not called")
	}

	// During a call: the Read in flight is retried on the new process.
	old = sup.pid()
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = syscall.Kill(old, syscall.SIGKILL)
	}()
	q := dbapi.ReadRequest{Table: "users"}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Read(ctx, q)
	if err != nil || len(rows) != 1 || rows[0]["username"] != "bob" {
		t.Fatalf("Read across a plugin crash = %v, %v", rows, err)
	}
	if sup.pid() == old {
		t.Fatal("plugin not restarted during the call")
	}
	log := logs.String()
	if n := strings.Count(log, "restarting it"); n < 2 || !strings.Contains(log, "kind=storage") || !strings.Contains(log, "name=mem") {
		t.Fatalf("want 2 logged restarts naming storage/mem, got %d:\n%s", n, log)
	}
}

// cloneBatch copies b deeply enough that applying it leaves b unchanged.
func cloneBatch(b storage.Batch) storage.Batch {
	ws := make([]replog.Entry, len(b.Writes))
	for i, e := range b.Writes {
		w := *e.Write
		w.Values, w.Where = maps.Clone(w.Values), maps.Clone(w.Where)
		e.Write = &w
		ws[i] = e
	}
	b.Writes = ws
	return b
}

// TestStorageApplyRetryAfterCrash: the plugin dies in the middle of an Apply,
// after committing the batch or before. The host restarts it and repeats the
// call: a committed batch is answered from the records (nothing applied
// twice), one that was not committed is applied.
func TestStorageApplyRetryAfterCrash(t *testing.T) {
	bad := insertRide(4, "bob")
	bad.Write.Values["source"] = "north"
	batch := func() storage.Batch {
		dup := insertUser(3, "alice")
		dup.WriteID = "w-alice-again"
		anon := insertUser(5, "bob")
		anon.WriteID = ""
		return cloneBatch(storage.Batch{Writes: []replog.Entry{insertUser(1, "alice"), insertRide(2, "alice"), dup, bad, anon}, Epoch: 1, Offset: 50})
	}
	applied := []storage.Outcome{
		{Result: storage.Result{Seq: 1, RowsAffected: 1}},
		{Result: storage.Result{Seq: 2, RowsAffected: 1, ID: 1}},
		{Result: storage.Result{Seq: 3}, Conflict: true},
		{Result: storage.Result{Seq: 4}, Invalid: "values.source"},
		{Result: storage.Result{Seq: 5, RowsAffected: 1}},
	}
	for _, tc := range []struct {
		option string
		want   []storage.Outcome
	}{
		{"crash_before_apply", applied},
		{"crash_after_apply", []storage.Outcome{
			{Result: storage.Result{Seq: 1, RowsAffected: 1}, Redelivered: true},
			{Result: storage.Result{Seq: 2, RowsAffected: 1, ID: 1}, Redelivered: true},
			{Result: storage.Result{Seq: 3}, Conflict: true, Redelivered: true},
			{Result: storage.Result{Seq: 4}, Invalid: "does not fit the schema", Redelivered: true},
			{Result: storage.Result{Seq: 5}}, // no write id: no record
		}},
	} {
		t.Run(tc.option, func(t *testing.T) {
			opts, _ := testOptions(t)
			restarted := make(chan struct{}, 4)
			opts.OnRestart = func(string, string) { restarted <- struct{}{} }
			ctx := testCtx(t)
			dir := t.TempDir()
			st, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "w1", DataDir: dir,
				Options: map[string]string{tc.option: filepath.Join(dir, "crashed")}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			pid := st.(*storageClient).sup.pid()
			outs, err := st.Apply(ctx, batch())
			if err != nil {
				t.Fatalf("Apply across a plugin crash: %v", err)
			}
			select {
			case <-restarted:
			case <-time.After(5 * time.Second):
				t.Fatal("the plugin did not crash and restart")
			}
			if p := st.(*storageClient).sup.pid(); p == pid || alive(pid) {
				t.Fatalf("plugin pid %d -> %d: not restarted", pid, p)
			}
			if len(outs) != len(tc.want) {
				t.Fatalf("outcomes %+v", outs)
			}
			for i, o := range outs {
				w := tc.want[i]
				if w.Invalid != "" && strings.Contains(o.Invalid, w.Invalid) {
					o.Invalid = w.Invalid
				}
				if o != w {
					t.Fatalf("write %d: outcome %+v, want %+v", i, outs[i], w)
				}
			}
			s, err := st.State(ctx)
			if err != nil || s != (storage.State{Seq: 5, Epoch: 1, Offset: 50, NextID: 2}) {
				t.Fatalf("State = %+v, %v", s, err)
			}
			for table, n := range map[string]int{"users": 2, "rides": 1} {
				q := dbapi.ReadRequest{Table: table}
				if err := q.Validate(); err != nil {
					t.Fatal(err)
				}
				if rows, err := st.Read(ctx, q); err != nil || len(rows) != n {
					t.Fatalf("%s after the retried Apply = %v, %v; want %d rows (applied once)", table, rows, err, n)
				}
			}
			// The same batch again (a caller's own retry) changes nothing:
			// its writes are redeliveries.
			again, err := st.Apply(ctx, batch())
			if err != nil || !again[0].Redelivered || !again[1].Redelivered || again[1].ID != 1 {
				t.Fatalf("the batch applied again = %+v, %v", again, err)
			}
		})
	}

	// A batch without writes is simply repeated.
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	st, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "w2", DataDir: dir,
		Options: map[string]string{"crash_after_apply": filepath.Join(dir, "crashed")}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if outs, err := st.Apply(ctx, storage.Batch{Epoch: 3, Offset: 7}); err != nil || len(outs) != 0 {
		t.Fatalf("empty batch across a crash = %v, %v", outs, err)
	}
	if s, err := st.State(ctx); err != nil || s != (storage.State{Epoch: 3, Offset: 7, NextID: 1}) {
		t.Fatalf("State = %+v, %v", s, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "crashed")); err != nil {
		t.Fatalf("the plugin did not crash: %v", err)
	}
}
