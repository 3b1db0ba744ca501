package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

func insertUser(seq uint64, name string) dbapi.Entry {
	return dbapi.Entry{Kind: dbapi.EntryWrite, Seq: seq, Epoch: 1, WriteID: "w-" + name,
		Write: &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": name, "password": strings.Repeat("a", 40)}}}
}

func insertRide(seq uint64, by string) dbapi.Entry {
	return dbapi.Entry{Kind: dbapi.EntryWrite, Seq: seq, Epoch: 1, WriteID: fmt.Sprintf("r-%s-%d", by, seq),
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

	for i, e := range []dbapi.Entry{insertUser(1, "alice"), insertRide(2, "alice")} {
		got, err := st.Apply(ctx, e, int64(10+i))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := local.Apply(ctx, e, int64(10+i))
		if got != want {
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

	// A constraint violation keeps its identity and still advances State.
	_, err = st.Apply(ctx, insertUser(3, "alice"), 12)
	if !errors.Is(err, storage.ErrConstraint) || !strings.Contains(err.Error(), "users") {
		t.Fatalf("duplicate insert: want storage.ErrConstraint with the plugin's message, got %v", err)
	}
	if s, _ := st.State(ctx); s.Seq != 3 || s.Offset != 12 {
		t.Fatalf("State after a constraint error = %+v", s)
	}
	_, _ = local.Apply(ctx, insertUser(3, "alice"), 12)

	if err := st.Advance(ctx, 4, 13); err != nil {
		t.Fatal(err)
	}
	_ = local.Advance(ctx, 4, 13)
	s, err := st.State(ctx)
	if err != nil || s != (storage.State{Seq: 3, Epoch: 4, Offset: 13, NextID: 2}) {
		t.Fatalf("State after Advance = %+v, %v", s, err)
	}

	q := dbapi.ReadRequest{Table: "rides", Where: map[string]any{"source": int64(3)}}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Read(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := local.Read(ctx, q)
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("Read through the plugin = %#v, in process = %#v", rows, want)
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
	if _, err := st.Apply(ctx, insertUser(1, "bob"), 0); err != nil {
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

// TestStorageApplyRetryIsIdempotent: a real Apply repeated after a restart
// is answered from the committed state instead of being applied twice.
func TestStorageApplyRetryIsIdempotent(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	st, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "w1", DataDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := st.(*storageClient)
	e := insertRide(1, "carol")
	first, err := st.Apply(ctx, e, 5)
	if err != nil {
		t.Fatal(err)
	}
	// Play the retry path by hand: the entry is committed, so "again" must
	// not apply it a second time (which would insert ride 2).
	inst, err := c.sup.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.applyAgain(ctx, inst, e, 5)
	if err != nil || got != first {
		t.Fatalf("repeated Apply = %+v, %v; want %+v", got, err, first)
	}
	q := dbapi.ReadRequest{Table: "rides"}
	_ = q.Validate()
	if rows, _ := st.Read(ctx, q); len(rows) != 1 {
		t.Fatalf("rides after a repeated Apply = %v", rows)
	}
}
