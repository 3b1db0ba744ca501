package storagetest

// The snapshot contract: Export and Import (package snapshot's format)
// carry the whole store — data, State, kept write-id records — and a stream
// that is not whole changes nothing.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// fillVaried applies one batch with every kind of row and record: text
// that looks like SQL or needs escaping, a large explicit id, a conflict,
// an invalid write, a write without id, an update and a delete.
func fillVaried(t testing.TB, s storage.Storage) []string {
	t.Helper()
	explicit := Ride("Émile", "02-01-2030:00-00-10", -7, 1<<40)
	explicit.Values["ride_id"] = int64(1 << 40)
	invalid := User("zed", "p")
	invalid.Values["age"] = int64(3)
	ws := []replog.Entry{
		Entry(1, "f-1", User("alice", "pa")),
		Entry(2, "f-2", User("Émile", "pé")),
		Entry(3, "f-3", User(`x'); DROP TABLE users; --`, "\"quoted\"\n\ttab \\ \u2028 日本")),
		Entry(4, "f-4", Ride("alice", "01-01-2030:00-00-10", 1, 2)),
		Entry(5, "f-5", explicit),
		Entry(6, "f-6", Member(1, "alice")),
		Entry(7, "f-7", Member(1, "Émile")),
		Entry(8, "f-8", Member(1<<40, "alice")),
		Entry(9, "f-9", User("alice", "dup")), // conflict
		Entry(10, "f-10", invalid),
		Entry(11, "", User("anon", "p")), // no record
		Entry(12, "f-12", dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
			Values: map[string]any{"password": "new"}, Where: map[string]any{"username": "alice"}}),
		Entry(13, "f-13", dbapi.WriteRequest{Table: "ride_users", Op: dbapi.OpDelete, Where: map[string]any{"username": "Émile"}}),
	}
	outs := mustApply(t, s, storage.Batch{Writes: ws, Epoch: 3, Offset: 130})
	if !outs[8].Conflict || outs[9].Invalid == "" {
		t.Fatalf("fill: outcomes %+v", outs)
	}
	ids := []string{"anon-never-recorded"}
	for _, e := range ws {
		if e.WriteID != "" {
			ids = append(ids, e.WriteID)
		}
	}
	return ids
}

// answer is what Lookup says of a write id, comparable across stores.
func answer(t testing.TB, s storage.Storage, id string) string {
	t.Helper()
	res, ok, err := s.Lookup(ctx(t), id)
	kind := "applied"
	switch {
	case errors.Is(err, storage.ErrConstraint):
		kind = "conflict"
	case dbapi.IsInvalid(err):
		kind = "invalid"
	case err != nil:
		t.Fatalf("Lookup(%q): %v", id, err)
	}
	if !ok {
		kind = "not found"
	}
	return fmt.Sprintf("%+v %s", res, kind)
}

func mustExport(t testing.TB, s storage.Storage) ([]byte, storage.State) {
	t.Helper()
	var b bytes.Buffer
	st, err := s.Export(ctx(t), &b)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.Bytes(), st
}

func mustImport(t testing.TB, s storage.Storage, data []byte) storage.State {
	t.Helper()
	st, err := s.Import(ctx(t), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Import of %d bytes: %v", len(data), err)
	}
	return st
}

// sameStore fails unless b holds what a holds: Hash, State, every table
// read back, and the answer to Lookup of ids.
func sameStore(t testing.TB, a, b storage.Storage, ids []string) {
	t.Helper()
	if sa, sb := snap(t, a), snap(t, b); sa != sb {
		t.Fatalf("stores differ: %+v and %+v", sa, sb)
	}
	for _, tb := range dbapi.Schema {
		q := dbapi.ReadRequest{Table: tb.Name}
		if ra, rb := mustRead(t, a, q), mustRead(t, b, q); fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Fatalf("table %s: %v and %v", tb.Name, ra, rb)
		}
	}
	for _, id := range ids {
		if x, y := answer(t, a, id), answer(t, b, id); x != y {
			t.Fatalf("Lookup(%q): %s and %s", id, x, y)
		}
	}
}

// CopyBySnapshot proves that a snapshot exported by a store from `from`
// imported into one from `to` (another backend, or the same) makes a store
// that holds and does exactly the same: Hash, State, rows, records, and the
// outcomes of the same writes applied to both afterwards.
func CopyBySnapshot(t *testing.T, from, to Opener) {
	src := from(t)
	ids := fillVaried(t, src)
	data, st := mustExport(t, src)
	if want := mustState(t, src); st != want {
		t.Fatalf("Export returned State %+v, the store is at %+v", st, want)
	}
	dst := to(t)
	(&feeder{t: t, s: dst}).must(User("old", "content")) // replaced
	if got := mustImport(t, dst, data); got != st {
		t.Fatalf("Import returned State %+v, want the exported %+v", got, st)
	}
	sameStore(t, src, dst, append(ids, "w-1"))
	if again, _ := mustExport(t, dst); !bytes.Equal(again, data) {
		t.Fatalf("the import exports other bytes than it was given:\n%s\nwant:\n%s", again, data)
	}
	// Both go on alike: a redelivery is answered from the imported record,
	// a new ride takes the imported NextID.
	next := storage.Batch{Writes: []replog.Entry{
		Entry(14, "f-4", Ride("alice", "01-01-2030:00-00-10", 1, 2)),
		Entry(15, "g-1", Ride("alice", "03-01-2030:00-00-10", 5, 6)),
		Entry(16, "g-2", User("Émile", "again")),
	}, Epoch: 3, Offset: 140}
	a := mustApply(t, src, next)
	b := mustApply(t, dst, next)
	if fmt.Sprint(a) != fmt.Sprint(b) || !a[0].Redelivered || a[1].ID != 1<<40+1 || !a[2].Conflict {
		t.Fatalf("after the import: outcomes %+v and %+v", a, b)
	}
	sameStore(t, src, dst, append(ids, "g-1", "g-2"))
}

func testSnapshotRoundTrip(t *testing.T, open Opener) {
	CopyBySnapshot(t, open, open)

	// an empty store too: its snapshot empties a full one
	empty, full := open(t), open(t)
	fillVaried(t, full)
	data, st := mustExport(t, empty)
	if st != (storage.State{Offset: -1, NextID: 1}) {
		t.Fatalf("Export of a fresh store: State %+v", st)
	}
	mustImport(t, full, data)
	sameStore(t, empty, full, []string{"f-1", "f-9"})
}

// testSnapshotLongText: text of several MB roundtrips, in keys as long as
// a request body may make them (1 MiB, incompressible).
func testSnapshotLongText(t *testing.T, open Opener) {
	src := open(t)
	long := strings.Repeat("ü€𝄞 \"\\\n", 1<<17) // 1.5 MiB, escapes everywhere
	name := LongText(5, 1<<20)                  // a 1 Mi-character key
	f := &feeder{t: t, s: src}
	f.must(User(name, long))
	f.must(User("a"+name, long+"!"))
	f.must(Ride(name, long, 1, 2))
	f.must(Member(1, name))
	data, _ := mustExport(t, src)
	dst := open(t)
	mustImport(t, dst, data)
	sameStore(t, src, dst, []string{"w-1", "w-4"})
	rows := mustRead(t, dst, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": name}})
	if len(rows) != 1 || rows[0]["password"] != long {
		t.Fatalf("the long row did not come back whole")
	}
}

// testSnapshotRefused: a snapshot that is not whole — a byte changed so
// that it no longer parses or types, cut short anywhere, followed by
// garbage, or with a reader that fails even after its last byte, or with
// the context cancelled half-way — is refused and changes nothing.
func testSnapshotRefused(t *testing.T, open Opener) {
	src := open(t)
	fillVaried(t, src)
	data, _ := mustExport(t, src)
	dst := open(t)
	f := &feeder{t: t, s: dst}
	f.must(User("kept", "pk"))
	f.must(Ride("kept", "01-01-2030:00-00-10", 3, 4))
	advance(t, dst, 9, 999)
	before := snap(t, dst)

	replace := func(old, new string) []byte {
		t.Helper()
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("%q not in the snapshot:\n%s", old, data)
		}
		return bytes.Replace(data, []byte(old), []byte(new), 1)
	}
	boom := errors.New("checksum mismatch")
	cancelled, cancel := context.WithCancel(context.Background())
	cases := []struct {
		name string
		r    io.Reader
		ctx  context.Context
	}{
		{"byte flipped in a row (syntax)", bytes.NewReader(replace(`["alice","new"]`, `["alice";"new"]`)), nil},
		{"byte flipped in a number", bytes.NewReader(replace(`[1,"alice",`, `[l,"alice",`)), nil},
		{"integer written as text", bytes.NewReader(replace(`[1,"alice",`, `["1","alice",`)), nil},
		{"byte flipped in a key (order)", bytes.NewReader(replace(`["alice","new"]`, `["blice","new"]`)), nil},
		{"truncated at half", bytes.NewReader(data[:len(data)/2]), nil},
		{"truncated by the end line", bytes.NewReader(data[:bytes.LastIndex(data[:len(data)-1], []byte("\n"))+1]), nil},
		{"truncated by its last byte", bytes.NewReader(data[:len(data)-1]), nil},
		{"garbage after the end", io.MultiReader(bytes.NewReader(data), strings.NewReader("{}\n")), nil},
		{"reader fails after its last byte", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), nil},
		{"reader fails with its last byte", &failWithLast{data: data, err: boom}, nil},
		{"reader fails with an error wrapping io.EOF", &failWithLast{data: data, err: fmt.Errorf("%w: %w", boom, io.EOF)}, nil},
		{"context cancelled half-way", &cancelAt{r: bytes.NewReader(data), at: len(data) / 2, cancel: cancel}, cancelled},
		{"empty", strings.NewReader(""), nil},
	}
	for _, c := range cases {
		c := c
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		st, err := dst.Import(ctx, c.r)
		if err == nil {
			t.Fatalf("%s: Import succeeded (State %+v)", c.name, st)
		}
		t.Logf("%s: %v", c.name, err)
		if after := snap(t, dst); after != before {
			t.Fatalf("%s: the refused Import changed the store: %+v -> %+v", c.name, before, after)
		}
		if answer(t, dst, "w-2") != "{Seq:2 RowsAffected:1 ID:1} applied" || answer(t, dst, "f-1") != "{Seq:0 RowsAffected:0 ID:0} not found" {
			t.Fatalf("%s: the refused Import changed the records", c.name)
		}
	}
	mustImport(t, dst, data) // and the store still takes a whole one
	sameStore(t, src, dst, []string{"f-1", "w-2"})
}

// cancelAt cancels a context once `at` bytes have been read.
type cancelAt struct {
	r      io.Reader
	at, n  int
	cancel context.CancelFunc
}

func (c *cancelAt) Read(p []byte) (int, error) {
	if c.n >= c.at {
		c.cancel()
		return c.r.Read(p)
	}
	n, err := c.r.Read(p[:min(len(p), c.at-c.n)])
	c.n += n
	return n, err
}

// failWithLast returns its last bytes together with err, as a reader that
// verifies a checksum at the end does.
type failWithLast struct {
	data []byte
	err  error
}

func (r *failWithLast) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}
