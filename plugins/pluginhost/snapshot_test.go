package pluginhost

// Snapshots through the plugin boundary, over the real sqlite storage served
// by this test binary: Export streams out in chunks, Import streams in, and
// an Import aborted on the host's side (its reader fails, its context ends,
// the plugin dies) changes nothing.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/replog"
)

// snapshotBatch fills a store with rows long enough that its snapshot takes
// several stream messages (storage.SnapshotChunkBytes).
func snapshotBatch() storage.Batch {
	long := strings.Repeat("snapshot ✓ \"chunk\"\n", storage.SnapshotChunkBytes/16)
	var ws []replog.Entry
	for i := range 4 {
		e := insertUser(uint64(i+1), fmt.Sprintf("user%d", i))
		e.Write.Values["password"] = long
		ws = append(ws, e)
	}
	ws = append(ws, insertRide(5, "user1"))
	return storage.Batch{Writes: ws, Epoch: 2, Offset: 50}
}

type storeState struct {
	hash string
	st   storage.State
}

func stateOf(t *testing.T, s storage.Storage) storeState {
	t.Helper()
	h, err := s.Hash(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return storeState{h, st}
}

func loadSQLite(t *testing.T, id string) storage.Storage {
	t.Helper()
	opts, _ := testOptions(t)
	st, err := LoadStorage(testCtx(t), "sqlite", storage.Config{WorkerID: id, DataDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestSnapshotThroughPlugin: a snapshot exported through the plugin is the
// very bytes the storage writes in process, and imported through another
// plugin it makes an equal store.
func TestSnapshotThroughPlugin(t *testing.T) {
	ctx := testCtx(t)
	src, dst := loadSQLite(t, "src"), loadSQLite(t, "dst")
	local, err := sqlite.Open(ctx, storage.Config{WorkerID: "local", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	for _, s := range []storage.Storage{src, local} {
		if _, err := s.Apply(ctx, cloneBatch(snapshotBatch())); err != nil {
			t.Fatal(err)
		}
	}
	var got, want bytes.Buffer
	st, err := src.Export(ctx, &got)
	if err != nil {
		t.Fatalf("Export through the plugin: %v", err)
	}
	lst, err := local.Export(ctx, &want)
	if err != nil {
		t.Fatal(err)
	}
	if st != lst || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("Export through the plugin: %d bytes at %+v; in process %d bytes at %+v", got.Len(), st, want.Len(), lst)
	}
	if got.Len() < 3*storage.SnapshotChunkBytes {
		t.Fatalf("the snapshot has %d bytes: too few to take several messages", got.Len())
	}
	imported, err := dst.Import(ctx, bytes.NewReader(got.Bytes()))
	if err != nil || imported != st {
		t.Fatalf("Import through the plugin: %+v, %v; want %+v", imported, err, st)
	}
	if a, b := stateOf(t, src), stateOf(t, dst); a != b {
		t.Fatalf("after the import: %+v, want %+v", b, a)
	}
	if r, ok, err := dst.Lookup(ctx, "r-user1-5"); err != nil || !ok || r.ID != 1 {
		t.Fatalf("Lookup of an imported record = %+v, %v, %v", r, ok, err)
	}
}

// TestImportAbortedThroughPlugin: whatever ends an Import before the host
// has sent the whole snapshot — its reader failing after the last byte (a
// checksum), a snapshot cut short, a cancelled context, the plugin dying —
// leaves the plugin's database unchanged, and the plugin works on.
func TestImportAbortedThroughPlugin(t *testing.T) {
	ctx := testCtx(t)
	src, dst := loadSQLite(t, "src"), loadSQLite(t, "dst")
	if _, err := src.Apply(ctx, snapshotBatch()); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := src.Export(ctx, &b); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if _, err := dst.Apply(ctx, storage.Batch{Writes: []replog.Entry{insertUser(1, "kept")}, Epoch: 7, Offset: 70}); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, dst)
	boom := errors.New("checksum mismatch")
	pid := dst.(*storageClient).sup.pid
	cases := []struct {
		name string
		r    func(cancel func()) io.Reader
		want func(error) bool
	}{
		{"reader fails after the last byte", func(func()) io.Reader {
			return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
		}, func(err error) bool { return errors.Is(err, boom) }},
		{"snapshot cut short", func(func()) io.Reader { return bytes.NewReader(data[:len(data)-10]) },
			func(err error) bool { return strings.Contains(err.Error(), "truncated") }},
		{"context cancelled", func(cancel func()) io.Reader {
			return &onRead{r: bytes.NewReader(data), after: 2, do: cancel}
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"plugin killed", func(func()) io.Reader {
			return &onRead{r: bytes.NewReader(data), after: 2, do: func() { sigkill(t, pid()) }}
		}, func(err error) bool { return strings.Contains(err.Error(), "cannot be read again") }},
	}
	for _, c := range cases {
		cctx, cancel := context.WithCancel(ctx)
		st, err := dst.Import(cctx, c.r(cancel))
		cancel()
		if err == nil || !c.want(err) {
			t.Fatalf("%s: Import = %+v, %v", c.name, st, err)
		}
		t.Logf("%s: %v", c.name, err)
		if after := stateOf(t, dst); after != before {
			t.Fatalf("%s: the aborted Import changed the database: %+v -> %+v", c.name, before, after)
		}
	}
	if _, err := dst.Import(ctx, bytes.NewReader(data)); err != nil {
		t.Fatalf("a whole Import after the aborted ones: %v", err)
	}
	if a, b := stateOf(t, src), stateOf(t, dst); a != b {
		t.Fatalf("after the import: %+v, want %+v", b, a)
	}
}

// TestExportAbortedThroughPlugin: an Export whose writer fails, whose
// context ends, or whose plugin dies once bytes were written fails; the
// plugin (restarted when it died) exports whole afterwards.
func TestExportAbortedThroughPlugin(t *testing.T) {
	ctx := testCtx(t)
	src := loadSQLite(t, "src")
	if _, err := src.Apply(ctx, snapshotBatch()); err != nil {
		t.Fatal(err)
	}
	full := errors.New("disk full")
	pid := src.(*storageClient).sup.pid
	cases := []struct {
		name string
		w    func(cancel func()) io.Writer
		want func(error) bool
	}{
		{"writer fails", func(func()) io.Writer { return &onWrite{after: 1, err: full} },
			func(err error) bool { return errors.Is(err, full) }},
		{"context cancelled", func(cancel func()) io.Writer { return &onWrite{after: 1, do: cancel} },
			func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"plugin killed", func(func()) io.Writer { return &onWrite{after: 1, do: func() { sigkill(t, pid()) }} },
			func(err error) bool { return strings.Contains(err.Error(), "discard them") }},
	}
	for _, c := range cases {
		cctx, cancel := context.WithCancel(ctx)
		st, err := src.Export(cctx, c.w(cancel))
		cancel()
		if err == nil || !c.want(err) {
			t.Fatalf("%s: Export = %+v, %v", c.name, st, err)
		}
		t.Logf("%s: %v", c.name, err)
	}
	var b bytes.Buffer
	if _, err := src.Export(ctx, &b); err != nil {
		t.Fatalf("a whole Export after the aborted ones: %v", err)
	}
	// and no read transaction was left open to hold up writes
	if _, err := src.Apply(ctx, storage.Batch{Writes: []replog.Entry{insertUser(6, "after")}, Epoch: 2, Offset: 60}); err != nil {
		t.Fatal(err)
	}
}

// onRead runs do before its Read number after (from 1), once.
type onRead struct {
	r     io.Reader
	after int
	n     int
	do    func()
}

func (o *onRead) Read(p []byte) (int, error) {
	o.n++
	if o.n == o.after {
		o.do()
	}
	return o.r.Read(p)
}

// onWrite, at its Write number after (from 1), runs do or fails with err.
type onWrite struct {
	mu    sync.Mutex
	after int
	n     int
	do    func()
	err   error
}

func (o *onWrite) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	if o.n == o.after {
		if o.err != nil {
			return 0, o.err
		}
		o.do()
	}
	return len(p), nil
}
