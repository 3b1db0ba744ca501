package pluginhost

// The boundary with real backends behind it: the sqlite storage and the
// process runtime, served by this test binary exactly as "rideshare plugin"
// serves them.

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
	"github.com/rideshare/dbaas/plugins/runtime/runtimetest"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/replog"
)

func registerReal() {
	UseBuiltins(Catalog{
		Storages: map[string]storage.Opener{"sqlite": sqlite.Open},
		Runtimes: map[string]runtime.Factory{"process": func(ctx context.Context, cfg runtime.Config) (runtime.Runtime, error) {
			return process.New(ctx, cfg, hclog.FromContext(ctx))
		}},
	})
}

// TestSQLiteThroughPlugin: the same writes through the plugin and in
// process give the same results, rows (with int64 ids) and content hash.
func TestSQLiteThroughPlugin(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	st, err := LoadStorage(ctx, "sqlite", storage.Config{WorkerID: "p1", DataDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	local, err := sqlite.Open(ctx, storage.Config{WorkerID: "l1", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()

	entries := []replog.Entry{insertUser(1, "alice"), insertRide(2, "alice"), insertRide(3, "alice"),
		{Kind: replog.EntryWrite, Seq: 4, Epoch: 1, WriteID: "u4", Write: &dbapi.WriteRequest{Table: "rides", Op: dbapi.OpUpdate,
			Values: map[string]any{"destination": int64(9)}, Where: map[string]any{"ride_id": int64(2)}}}}
	for i, e := range entries {
		b := storage.Batch{Writes: []replog.Entry{e}, Epoch: 1, Offset: int64(i)}
		got, err := st.Apply(ctx, b)
		if err != nil {
			t.Fatalf("Apply %d through the plugin: %v", i, err)
		}
		want, err := local.Apply(ctx, cloneBatch(b))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Apply %d: plugin %+v, in process %+v (%v)", i, got, want, err)
		}
	}
	// A batch through the plugin: a conflict, an invalid write (the values
	// travel as JSON and are normalized back), a redelivery, a new ride.
	dup := insertUser(5, "alice")
	dup.WriteID = "w-alice-again"
	bad := insertRide(6, "alice")
	bad.Write.Values["destination"] = 1.5
	b := storage.Batch{Writes: []replog.Entry{dup, bad, insertUser(7, "alice"), insertRide(8, "alice")}, Epoch: 1, Offset: 5}
	want, err := local.Apply(ctx, cloneBatch(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Apply(ctx, b)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("batch: plugin %+v (%v), in process %+v", got, err, want)
	}
	if !got[0].Conflict || !strings.Contains(got[1].Invalid, "values.destination") || !got[2].Redelivered || got[3].ID != 3 {
		t.Fatalf("batch outcomes %+v", got)
	}
	if _, ok, err := st.Lookup(ctx, "w-alice-again"); !ok || !errors.Is(err, storage.ErrConstraint) {
		t.Fatalf("Lookup of the conflict through the plugin = %v, %v; want storage.ErrConstraint", ok, err)
	}
	if _, ok, err := st.Lookup(ctx, bad.WriteID); !ok || !dbapi.IsInvalid(err) {
		t.Fatalf("Lookup of the invalid write through the plugin = %v, %v; want an InvalidError", ok, err)
	}

	q := dbapi.ReadRequest{Table: "rides", OrderBy: "ride_id desc"}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Read(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	lrows, _ := local.Read(ctx, q)
	if !reflect.DeepEqual(rows, lrows) || len(rows) != 3 {
		t.Fatalf("Read: plugin %#v, in process %#v", rows, lrows)
	}
	gs, _ := st.State(ctx)
	ls, _ := local.State(ctx)
	if gs != ls {
		t.Fatalf("State: plugin %+v, in process %+v", gs, ls)
	}
	gh, err := st.Hash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lh, _ := local.Hash(ctx); gh != lh {
		t.Fatalf("Hash: plugin %s, in process %s", gh, lh)
	}
	if r, ok, err := st.Lookup(ctx, "u4"); err != nil || !ok || r.RowsAffected != 1 {
		t.Fatalf("Lookup = %+v %v %v", r, ok, err)
	}

	// Killed: re-opened on the same file, nothing lost.
	sigkill(t, st.(*storageClient).sup.pid())
	if h, err := st.Hash(ctx); err != nil || h != gh {
		t.Fatalf("Hash after the plugin was killed = %s, %v; want %s", h, err, gh)
	}
}

// TestProcessRuntimeThroughPlugin: workers started by the process runtime
// plugin survive its SIGKILL; the restarted plugin adopts them (List) and
// still reports their exits.
func TestProcessRuntimeThroughPlugin(t *testing.T) {
	opts, _ := testOptions(t)
	// The build comes before the test's deadline starts: on a busy machine
	// it alone can take much of it.
	bin, err := runtimetest.BuildWorker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	rt, closer, err := LoadRuntime(ctx, "process", runtime.Config{Binary: bin, StateDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := rt.Start(ctx, runtime.Spec{ID: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rt.Kill(context.Background(), "w1") }()
	if !alive(h.PID) {
		t.Fatalf("worker pid %d not running", h.PID)
	}

	sigkill(t, rt.(*runtimeClient).sup.pid())
	hs, err := rt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].ID != "w1" || hs[0].PID != h.PID {
		t.Fatalf("List after the runtime plugin was killed = %+v, want w1 pid %d adopted", hs, h.PID)
	}
	if err := rt.Kill(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.ID != "w1" || e.PID != h.PID {
			t.Fatalf("exit = %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit for the adopted worker")
	}
	waitFor(t, "worker to be gone", 5*time.Second, func() bool { return !alive(h.PID) })
}
