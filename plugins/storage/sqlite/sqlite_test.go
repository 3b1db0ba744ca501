package sqlite_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/plugins/storage/sqlstore"
	"github.com/rideshare/dbaas/plugins/storage/storagetest"
)

func open(tb testing.TB, dir, id string) (storage.Storage, error) {
	return sqlite.Open(context.Background(), storage.Config{WorkerID: id, DataDir: dir})
}

func fresh(tb testing.TB) storage.Storage {
	tb.Helper()
	s, err := open(tb, tb.TempDir(), "worker-1")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Destroy(context.Background()); err != nil {
			tb.Errorf("Destroy: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return fresh(t) })
}

func TestSnapshotContract(t *testing.T) {
	storagetest.RunSnapshot(t, func(t *testing.T) storage.Storage { return fresh(t) })
}

func TestLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data") // Open creates it
	storagetest.RunLifecycle(t, "w", storagetest.Lifecycle{
		Open: func(t *testing.T, id string) (storage.Storage, error) { return open(t, dir, id) },
		Exists: func(t *testing.T, id string) bool {
			p, err := sqlite.Path(storage.Config{WorkerID: id, DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			_, err = os.Stat(p)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if err != nil { // the companions go too
				for _, suf := range []string{"-wal", "-shm"} {
					if _, err := os.Stat(p + suf); err == nil {
						t.Fatalf("%s%s left behind", p, suf)
					}
				}
			}
			return err == nil
		},
	})
}

func TestFileAndPragmas(t *testing.T) {
	dir := t.TempDir()
	s, err := open(t, dir, "w-7")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy(context.Background()) //nolint:errcheck
	if _, err := os.Stat(filepath.Join(dir, "w-7.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
	db := s.(*sqlstore.Store).DB()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "busy_timeout": "5000"} {
		var got string
		if err := db.QueryRowContext(context.Background(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []storage.Config{
		{WorkerID: "", DataDir: t.TempDir()},
		{WorkerID: "../escape", DataDir: t.TempDir()},
		{WorkerID: "a/b", DataDir: t.TempDir()},
		{WorkerID: ".hidden", DataDir: t.TempDir()},
		{WorkerID: "w1", DataDir: ""},
	} {
		if s, err := sqlite.Open(context.Background(), cfg); err == nil {
			s.Close()
			t.Fatalf("Open(%+v) succeeded", cfg)
		}
	}
}

// TestOptions: sqlite accepts no option; a key in config = { … } is refused
// by Open, with an error naming it and the plugin, and no file is created.
func TestOptions(t *testing.T) {
	if err := sqlite.ValidateOptions(nil); err != nil {
		t.Fatalf("no options: %v", err)
	}
	dir := t.TempDir()
	_, err := sqlite.Open(context.Background(), storage.Config{WorkerID: "w1", DataDir: dir, Options: map[string]string{"path": "/tmp/x.db"}})
	want := `storage "sqlite": unknown option "path" (accepted: none)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open with an unknown option: err = %v, want it to contain %s", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "w1.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("database file after a refused option: %v", err)
	}
}

func BenchmarkApply(b *testing.B) {
	storagetest.BenchmarkApply(b, func(b *testing.B) storage.Storage { return fresh(b) })
}

func BenchmarkGroupCommit(b *testing.B) {
	storagetest.BenchmarkGroupCommit(b, func(b *testing.B) storage.Storage { return fresh(b) })
}

func BenchmarkRead(b *testing.B) {
	storagetest.BenchmarkRead(b, func(b *testing.B) storage.Storage { return fresh(b) })
}

func BenchmarkSnapshot(b *testing.B) {
	storagetest.BenchmarkSnapshot(b, func(b *testing.B) storage.Storage { return fresh(b) })
}
