package sqlstore_test

import (
	"context"
	"testing"

	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/plugins/storage/sqlstore"
	"github.com/rideshare/dbaas/plugins/storage/storagetest"
	"github.com/rideshare/dbaas/replog"
)

// records counts the rows of the write-id records table.
func records(t *testing.T, s *sqlstore.Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM "`+sqlstore.WritesTable+`"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruneRecords: the rows of records out of the window are deleted when
// the seq crosses a multiple of PruneEvery, not before, and the rest stay.
func TestPruneRecords(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) *sqlstore.Store
	}{
		{"sqlite", openSQLite},
		{"postgres", func(t *testing.T) *sqlstore.Store { return openPostgres(t, nil) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			const w = storage.WriteIDWindow
			apply := func(ws ...replog.Entry) {
				t.Helper()
				if _, err := s.Apply(context.Background(), storage.Batch{Writes: ws, Epoch: 1, Offset: int64(ws[len(ws)-1].Seq)}); err != nil {
					t.Fatal(err)
				}
			}
			e := func(seq uint64, id string) replog.Entry { return storagetest.Entry(seq, id, storagetest.User(id, "p")) }
			const p = sqlstore.PruneEvery
			apply(e(1, "a"), e(2, "b"))
			// from seq 2 across multiples of p to w+p: seqs <= p go (a, b)
			apply(e(p+2, "e"), e(w+p, "c"))
			if n := records(t, s); n != 2 {
				t.Fatalf("%d records after the first prune, want 2 (e, c)", n)
			}
			// e (p+2) falls out of the window at w+p+2, but no multiple of
			// p is crossed: its row stays, it is no longer found
			apply(e(w+p+5, "d"))
			if n := records(t, s); n != 3 {
				t.Fatalf("%d records before a multiple of %d is crossed, want 3", n, p)
			}
			if _, ok, _ := s.Lookup(context.Background(), "e"); ok {
				t.Fatal("a record out of the window was found")
			}
			// crossing the next multiple: e goes
			apply(e(w+2*p, "f"))
			if n := records(t, s); n != 3 {
				t.Fatalf("%d records after the second prune, want 3 (c, d, f)", n)
			}
			for id, want := range map[string]bool{"a": false, "e": false, "c": true, "d": true, "f": true} {
				if _, ok, err := s.Lookup(context.Background(), id); ok != want || err != nil {
					t.Fatalf("Lookup(%q) = %v, %v; want %v", id, ok, err, want)
				}
			}
		})
	}
}

// TestPruneIndexOnOpen: a database made before the index on the records' seq
// existed gets it when opened, and keeps its records.
func TestPruneIndexOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := storage.Config{WorkerID: "old", DataDir: dir}
	st, err := sqlite.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*sqlstore.Store)
	apply(t, s, 1, storagetest.User("alice", "pa"))
	if _, err := s.DB().ExecContext(ctx, `DROP INDEX "`+sqlstore.WritesSeqIndex+`"`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen without the index: %v", err)
	}
	s = st.(*sqlstore.Store)
	defer s.Destroy(ctx) //nolint:errcheck
	var n int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?", sqlstore.WritesSeqIndex).Scan(&n); err != nil || n != 1 {
		t.Fatalf("index %s after reopening: %d, %v", sqlstore.WritesSeqIndex, n, err)
	}
	if r, ok, err := s.Lookup(ctx, "w-1"); !ok || err != nil || r.Seq != 1 {
		t.Fatalf("Lookup after reopening = %+v, %v, %v", r, ok, err)
	}
	pg := openPostgres(t, nil)
	if err := pg.DB().QueryRowContext(ctx, "SELECT count(*) FROM pg_indexes WHERE indexname = ?", sqlstore.WritesSeqIndex).Scan(&n); err != nil || n != 1 {
		t.Fatalf("index %s on PostgreSQL: %d, %v", sqlstore.WritesSeqIndex, n, err)
	}
}
