// Package sqlite is the embedded storage backend: one SQLite file per worker,
// `<DataDir>/<WorkerID>.db`, opened with the pure-Go modernc.org/sqlite driver
// (the binary is built with CGO_ENABLED=0).
//
// Every connection runs with journal_mode=WAL (readers never block the writer
// nor each other), synchronous=NORMAL (a commit survives a process crash such
// as kill -9; only an OS crash or power loss may drop the last commits) and
// busy_timeout=5000. Write transactions begin IMMEDIATE, so a writer takes the
// lock up front instead of failing on a read-to-write upgrade.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/rideshare/dbaas/plugins"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlstore"
)

// OptionKeys are the keys of storage.Config.Options that sqlite accepts:
// none (a worker's database is always `<DataDir>/<WorkerID>.db`).
var OptionKeys []string

// ValidateOptions refuses every option sqlite does not accept (see
// OptionKeys), naming the key; Open calls it first.
func ValidateOptions(opts map[string]string) error {
	return plugins.CheckOptions("storage", "sqlite", opts, OptionKeys)
}

// MaxOpenConns bounds the connection pool: writes are serialized by the store,
// the rest of the pool serves concurrent reads.
const MaxOpenConns = 8

// BusyTimeoutMillis is how long a statement waits for a lock.
const BusyTimeoutMillis = 5000

// Dialect is SQLite's description for sqlstore.
var Dialect = sqlstore.Dialect{
	IntegerType:       "INTEGER",
	TextType:          "TEXT", // BINARY collation: bytewise
	Snapshot:          sql.TxOptions{ReadOnly: true},
	IsUniqueViolation: IsUniqueViolation,
	Placeholder:       sqlstore.QuestionMark,
	QuoteIdent:        sqlstore.AppendDoubleQuoted,
}

// IsUniqueViolation reports whether err is a SQLite PRIMARY KEY or UNIQUE
// constraint failure.
func IsUniqueViolation(err error) bool {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE:
			return true
		case sqlite3lib.SQLITE_CONSTRAINT:
			return strings.Contains(se.Error(), "UNIQUE constraint failed")
		}
		return false
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Path returns the database file of a worker.
func Path(cfg storage.Config) (string, error) {
	if err := checkID(cfg.WorkerID); err != nil {
		return "", err
	}
	if cfg.DataDir == "" {
		return "", errors.New("sqlite storage: data_dir is empty")
	}
	return filepath.Join(cfg.DataDir, cfg.WorkerID+".db"), nil
}

// checkID accepts worker ids that are safe as a file name on their own:
// letters, digits, '-', '_' and '.', not starting with '.'.
func checkID(id string) error {
	if id == "" {
		return errors.New("sqlite storage: worker id is empty")
	}
	if id[0] == '.' {
		return fmt.Errorf("sqlite storage: worker id %q must not start with '.'", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("sqlite storage: worker id %q: only letters, digits, '-', '_' and '.' are allowed", id)
		}
	}
	return nil
}

// Open opens (creating when missing) the worker's database file
// `<cfg.DataDir>/<cfg.WorkerID>.db`, creating DataDir when needed. It accepts
// no option: any key in cfg.Options is an error (ValidateOptions). Destroy
// removes the file and its -wal/-shm companions.
func Open(ctx context.Context, cfg storage.Config) (storage.Storage, error) {
	if err := ValidateOptions(cfg.Options); err != nil {
		return nil, err
	}
	path, err := Path(cfg)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite storage (worker %s): %w", cfg.WorkerID, err)
	}
	name := fmt.Sprintf("sqlite storage (worker %s, %s)", cfg.WorkerID, abs)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("%s: create data dir: %w", name, err)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()

	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", name, err)
	}
	sqldb.SetMaxOpenConns(MaxOpenConns)
	sqldb.SetMaxIdleConns(MaxOpenConns)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("%s: open: %w", name, err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	st, err := sqlstore.New(ctx, db, sqlstore.Options{
		Name:    name,
		Dialect: Dialect,
		Remove: func(context.Context) error {
			var errs []error
			for _, p := range []string{abs, abs + "-wal", abs + "-shm", abs + "-journal"} {
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

var _ storage.Opener = Open
