package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/postgres"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/plugins/storage/sqlstore"
	"github.com/rideshare/dbaas/plugins/storage/storagetest"
	"github.com/rideshare/dbaas/replog"
)

func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), storage.Config{WorkerID: "w", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Destroy(context.Background()) }) //nolint:errcheck
	return s.(*sqlstore.Store)
}

// openPostgres opens a fresh database on the test server (RIDESHARE_PG_URL,
// default as in the postgres package's tests); it fails, never skips, when
// the server is not there.
func openPostgres(t *testing.T, opts map[string]string) *sqlstore.Store {
	t.Helper()
	url := os.Getenv("RIDESHARE_PG_URL")
	if url == "" {
		url = "postgres://rideshare:rideshare@127.0.0.1:5432/postgres?sslmode=disable"
	}
	b := make([]byte, 4)
	rand.Read(b)
	o := map[string]string{postgres.OptionURL: url}
	for k, v := range opts {
		o[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, storage.Config{WorkerID: "test_stmt_" + hex.EncodeToString(b), Options: o})
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return s.(*sqlstore.Store)
}

func apply(t *testing.T, s storage.Storage, seq uint64, w dbapi.WriteRequest) storage.Result {
	t.Helper()
	o, err := storagetest.ApplyOne(context.Background(), s, storagetest.Entry(seq, fmt.Sprintf("w-%d", seq), w), int64(seq))
	if err != nil || storagetest.Refused(o) != nil {
		t.Fatalf("apply %+v: %+v, %v", w, o, err)
	}
	return o.Result
}

func read(t *testing.T, s storage.Storage, q dbapi.ReadRequest) []map[string]any {
	t.Helper()
	rows, err := s.Read(context.Background(), q)
	if err != nil {
		t.Fatalf("Read %+v: %v", q, err)
	}
	return rows
}

// TestValuesAreBound: the SQL text a store prepares carries placeholders,
// never a value, and reads of one shape with other values share one prepared
// statement.
func TestValuesAreBound(t *testing.T) {
	for _, b := range []struct {
		name        string
		open        func(t *testing.T) *sqlstore.Store
		first, next string // the first two placeholders
	}{
		{"sqlite", openSQLite, "?", "?"},
		{"postgres", func(t *testing.T) *sqlstore.Store { return openPostgres(t, nil) }, "$1", "$2"},
	} {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			const marker = "MARKER"
			var seq uint64
			for i := 0; i < 3; i++ {
				name := fmt.Sprintf("%s-%d ? $1 '", marker, i)
				seq++
				apply(t, s, seq, storagetest.User(name, marker+"-pw"))
				seq++
				apply(t, s, seq, storagetest.Ride(name, marker+"-ts", 77, 78))
				seq++
				apply(t, s, seq, dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
					Values: map[string]any{"password": marker + "-new"}, Where: map[string]any{"username": name}})
				if rows := read(t, s, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": name}}); len(rows) != 1 {
					t.Fatalf("read %q: %v", name, rows)
				}
				rows := read(t, s, dbapi.ReadRequest{Table: "rides", Where: map[string]any{"created_by": name}, OrderBy: "timestamp", Limit: 5 + i})
				if len(rows) != 1 {
					t.Fatalf("rides by %q: %v", name, rows)
				}
			}
			seq++
			apply(t, s, seq, dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete, Where: map[string]any{"username": marker + "-0 ? $1 '"}})
			if _, err := s.Hash(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Lookup(context.Background(), marker+"-id"); err != nil {
				t.Fatal(err)
			}

			texts := sqlstore.PreparedTexts(s)
			for _, q := range texts {
				if strings.Contains(q, marker) || strings.Contains(q, "77") || strings.Contains(q, "'") {
					t.Errorf("a value is spliced into %q", q)
				}
			}
			byKey := `SELECT "username", "password" FROM "users" WHERE "username" = ` + b.first + ` ORDER BY "username" ASC`
			rides := `FROM "rides" WHERE "created_by" = ` + b.first + ` ORDER BY "timestamp" ASC, "ride_id" ASC LIMIT ` + b.next
			var nRides int
			for _, q := range texts {
				if strings.HasSuffix(q, rides) {
					nRides++
				}
			}
			if !slices.Contains(texts, byKey) || nRides != 1 {
				t.Errorf("want one statement %q and one ending in %q, got:\n%s", byKey, rides, strings.Join(texts, "\n"))
			}
			if t.Failed() {
				return
			}
			t.Logf("%d prepared statements:\n%s", len(texts), strings.Join(texts, "\n"))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(sqlstore.PreparedTexts(s)); n != 0 {
				t.Fatalf("%d statements cached after Close", n)
			}
		})
	}
}

// TestPreparedBounded: a caller sending ever new shapes (here, a column
// repeated one more time each read) fills the cache up to MaxPrepared and
// no further; the shapes beyond it still run, bound, prepared for one use,
// in reads and in transactions alike.
func TestPreparedBounded(t *testing.T) {
	s := openSQLite(t)
	apply(t, s, 1, storagetest.User("alice", "pa"))
	cols := []string{}
	for i := 0; i < sqlstore.MaxPrepared+10; i++ {
		cols = append(cols, "username")
		if rows := read(t, s, dbapi.ReadRequest{Table: "users", Columns: cols}); len(rows) != 1 || rows[0]["username"] != "alice" {
			t.Fatalf("read of %d columns: %v", len(cols), rows)
		}
	}
	if n := len(sqlstore.PreparedTexts(s)); n != sqlstore.MaxPrepared {
		t.Fatalf("%d statements cached, want the bound %d", n, sqlstore.MaxPrepared)
	}
	// New shapes in a transaction (Apply), its records and Hash: all beyond
	// the bound.
	apply(t, s, 2, storagetest.User("bob", "pb"))
	apply(t, s, 3, storagetest.Ride("bob", "t", 1, 2))
	apply(t, s, 4, dbapi.WriteRequest{Table: "rides", Op: dbapi.OpUpdate, Values: map[string]any{"ride_id": int64(9)}, Where: map[string]any{"ride_id": int64(1)}})
	if rows := read(t, s, dbapi.ReadRequest{Table: "rides", Where: map[string]any{"created_by": "bob"}, Limit: 1}); len(rows) != 1 || rows[0]["ride_id"] != int64(9) {
		t.Fatalf("ride of bob: %v", rows)
	}
	if _, err := s.Hash(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := s.Lookup(context.Background(), "w-3"); err != nil || !ok || r.ID != 1 {
		t.Fatalf("Lookup(w-3) = %+v, %v, %v", r, ok, err)
	}
	if n := len(sqlstore.PreparedTexts(s)); n != sqlstore.MaxPrepared {
		t.Fatalf("%d statements cached, want the bound %d", n, sqlstore.MaxPrepared)
	}
}

// TestOneConnection: with a pool of one connection a transaction must not
// wait for a second one to prepare a statement on.
func TestOneConnection(t *testing.T) {
	s := openPostgres(t, map[string]string{postgres.OptionMaxOpenConns: "1"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	outs, err := s.Apply(ctx, storage.Batch{Epoch: 1, Offset: 2, Writes: []replog.Entry{
		storagetest.Entry(1, "a", storagetest.User("alice", "pa")),
		storagetest.Entry(2, "b", dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"username": "al"}, Where: map[string]any{"username": "alice"}}),
	}})
	if err != nil || len(outs) != 2 || outs[1].RowsAffected != 1 {
		t.Fatalf("Apply on one connection: %+v, %v", outs, err)
	}
	if _, err := s.Hash(ctx); err != nil {
		t.Fatalf("Hash on one connection: %v", err)
	}
	if rows, err := s.Read(ctx, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": "al"}}); err != nil || len(rows) != 1 {
		t.Fatalf("Read on one connection: %v, %v", rows, err)
	}
}

func TestAppendDoubleQuoted(t *testing.T) {
	for name, want := range map[string]string{"users": `"users"`, `a"b`: `"a""b"`, "": `""`} {
		if got := string(sqlstore.AppendDoubleQuoted([]byte("x "), name)); got != "x "+want {
			t.Errorf("AppendDoubleQuoted(%q) = %q, want %q", name, got, "x "+want)
		}
	}
}
