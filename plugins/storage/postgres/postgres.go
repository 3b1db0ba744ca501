// Package postgres is the PostgreSQL storage backend (bun + pgdriver). Every
// worker gets its own database on the server, named from its worker id
// (DatabaseName), created on first Open through the maintenance connection
// given by Options["url"] and dropped by Destroy.
//
// Text columns are `TEXT COLLATE "C"`, so text compares and orders bytewise,
// exactly like SQLite: reads and Hash agree across backends.
package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/rideshare/dbaas/plugins"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/sqlstore"
)

// OptionURL is the Options key of the server URL, e.g.
// postgres://rideshare:rideshare@127.0.0.1:5432/postgres?sslmode=disable.
// Its database is the maintenance database used to create and drop the
// workers' databases; the role needs CREATEDB.
const OptionURL = "url"

// DatabasePrefix starts every worker database name.
const DatabasePrefix = "rideshare_"

// OptionMaxOpenConns is the Options key bounding a worker's connection pool
// (default MaxOpenConns). Every worker has its own pool, so workers ×
// max_open_conns must stay below the server's max_connections.
const OptionMaxOpenConns = "max_open_conns"

// MaxOpenConns is the default bound of a worker's connection pool.
const MaxOpenConns = 4

// OptionKeys are the keys of storage.Config.Options that postgres accepts;
// any other is refused (ValidateOptions).
var OptionKeys = []string{OptionURL, OptionMaxOpenConns}

// DialTimeout bounds connecting to the server.
const DialTimeout = 5 * time.Second

// Dialect is PostgreSQL's description for sqlstore.
var Dialect = sqlstore.Dialect{
	IntegerType:       "BIGINT",
	TextType:          `TEXT COLLATE "C"`,
	Snapshot:          sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	IsUniqueViolation: IsUniqueViolation,
	// pgdriver binds $n parameters only in a prepared statement (Parse, then
	// Bind); sqlstore runs every statement with values prepared.
	Placeholder: sqlstore.DollarNumber,
	QuoteIdent:  sqlstore.AppendDoubleQuoted,
	TextKey:     &sqlstore.TextKey{Func: TextKeyFunc, Create: createTextKeyFunc},
}

// TextKeyFunc is the SHA-256 of a text's UTF-8 bytes, the unique index of a
// text primary key holds it instead of the text (sqlstore.TextKey): a B-tree
// entry over about 2.7 kB is refused (SQLSTATE 54000), and a username may be
// as long as a request body. SHA-256, not md5: a collision would refuse a
// user whose name was never taken.
const TextKeyFunc = sqlstore.InternalPrefix + "text_key"

// createTextKeyFunc creates TextKeyFunc unless it exists. convert_to is only
// STABLE (it looks up a conversion), but to UTF8 from a database's fixed
// encoding its result never changes: the wrapper is declared IMMUTABLE, which
// an index expression needs. Two Opens racing on it: the loser's CREATE fails
// with duplicate_function or unique_violation, caught.
const createTextKeyFunc = `DO $do$ BEGIN
	CREATE FUNCTION ` + TextKeyFunc + `(text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
		AS 'SELECT sha256(convert_to($1, ''UTF8''))';
EXCEPTION WHEN duplicate_function OR unique_violation THEN NULL;
END $do$`

// IsUniqueViolation reports whether err is SQLSTATE 23505 (unique_violation,
// which covers primary keys).
func IsUniqueViolation(err error) bool { return sqlState(err) == "23505" }

func sqlState(err error) string {
	var pe pgdriver.Error
	if errors.As(err, &pe) {
		return pe.Field('C')
	}
	return ""
}

// DatabaseName is the database of a worker: DatabasePrefix followed by the id
// lower-cased with every character outside [a-z0-9_] replaced by '_'. When
// that changed the id (or it had to be shortened to PostgreSQL's 63-byte
// limit) a short hash of the original id is appended, so distinct ids never
// share a database.
func DatabaseName(workerID string) (string, error) {
	if workerID == "" {
		return "", errors.New("postgres storage: worker id is empty")
	}
	var b strings.Builder
	for _, r := range workerID {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := DatabasePrefix + b.String()
	if b.String() != workerID || len(name) > 63 {
		sum := sha256.Sum256([]byte(workerID))
		suffix := "_" + hex.EncodeToString(sum[:4])
		if len(name)+len(suffix) > 63 {
			name = name[:63-len(suffix)]
		}
		name += suffix
	}
	return name, nil
}

type server struct {
	url      string // as given
	redacted string // for messages
}

// options are the parsed storage.Config.Options.
type options struct {
	server       server
	maxOpenConns int
}

// parseOptions checks every key and value of opts: unknown keys, a missing
// or malformed url and a max_open_conns that is not a positive integer are
// errors naming the option.
func parseOptions(opts map[string]string) (options, error) {
	if err := plugins.CheckOptions("storage", "postgres", opts, OptionKeys); err != nil {
		return options{}, err
	}
	raw := opts[OptionURL]
	if raw == "" {
		return options{}, fmt.Errorf("storage \"postgres\": option %q (the PostgreSQL server URL) is missing", OptionURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return options{}, fmt.Errorf("storage \"postgres\": option %q: want postgres://user:password@host:port/db, got an invalid URL", OptionURL)
	}
	o := options{server: server{url: raw, redacted: u.Redacted()}, maxOpenConns: MaxOpenConns}
	if v := opts[OptionMaxOpenConns]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("storage \"postgres\": option %q: want a positive integer, got %q", OptionMaxOpenConns, v)
		}
		o.maxOpenConns = n
	}
	return o, nil
}

// ValidateOptions checks options as Open does, without connecting: every key
// must be one of OptionKeys, url must be set and a postgres:// URL, and
// max_open_conns (unless empty) a positive integer.
func ValidateOptions(opts map[string]string) error {
	_, err := parseOptions(opts)
	return err
}

func (s server) open(database string) *sql.DB {
	opts := []pgdriver.Option{pgdriver.WithDSN(s.url), pgdriver.WithDialTimeout(DialTimeout), pgdriver.WithApplicationName("rideshare")}
	if database != "" {
		opts = append(opts, pgdriver.WithDatabase(database))
	}
	return sql.OpenDB(pgdriver.NewConnector(opts...))
}

// Open connects to the PostgreSQL server of cfg.Options["url"], creates the
// worker's database (DatabaseName) when it does not exist yet, and opens it
// with a pool of cfg.Options["max_open_conns"] connections (default
// MaxOpenConns). Any other option is an error (ValidateOptions), checked
// before connecting. cfg.DataDir is not used.
func Open(ctx context.Context, cfg storage.Config) (storage.Storage, error) {
	opts, err := parseOptions(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("postgres storage (worker %s): %w", cfg.WorkerID, err)
	}
	srv := opts.server
	dbName, err := DatabaseName(cfg.WorkerID)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("postgres storage (worker %s, database %s on %s)", cfg.WorkerID, dbName, srv.redacted)
	if err := ensureDatabase(ctx, srv, dbName); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}

	sqldb := srv.open(dbName)
	sqldb.SetMaxOpenConns(opts.maxOpenConns)
	sqldb.SetMaxIdleConns(opts.maxOpenConns)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("%s: connect to PostgreSQL: %w", name, err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	st, err := sqlstore.New(ctx, db, sqlstore.Options{
		Name:    name,
		Dialect: Dialect,
		Remove: func(ctx context.Context) error {
			return dropDatabase(ctx, srv, dbName)
		},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

var _ storage.Opener = Open

// maintenance opens the server's maintenance database (the URL's own).
func maintenance(ctx context.Context, srv server) (*bun.DB, error) {
	sqldb := srv.open("")
	sqldb.SetMaxOpenConns(1)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", srv.redacted, err)
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

func databaseExists(ctx context.Context, db *bun.DB, dbName string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = ?", dbName).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up database %s in pg_database: %w", dbName, err)
	}
	return n > 0, nil
}

// ensureDatabase creates dbName unless pg_database already lists it. A
// concurrent creation of the same database is not an error.
func ensureDatabase(ctx context.Context, srv server, dbName string) error {
	db, err := maintenance(ctx, srv)
	if err != nil {
		return err
	}
	defer db.Close()
	ok, err := databaseExists(ctx, db, dbName)
	if err != nil || ok {
		return err
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE ?", bun.Ident(dbName)); err != nil {
		// 42P04 duplicate_database; 23505 when two creations race in the catalog.
		if st := sqlState(err); st == "42P04" || st == "23505" {
			return nil
		}
		return fmt.Errorf("create database %s: %w", dbName, err)
	}
	return nil
}

// DropRetryFor bounds how long dropDatabase keeps trying while the database
// is still in use (each DROP attempt already waits up to 5 s itself).
const DropRetryFor = 20 * time.Second

// dropDatabase drops dbName as the (non-superuser) role of the URL. It does
// not use DROP DATABASE … WITH (FORCE): that terminates every backend on the
// database and fails outright ("must be a member of the role whose process is
// being terminated or member of pg_signal_backend") when one of them belongs
// to another role, as an autovacuum worker does. Instead it terminates only
// the sessions it may (those of roles whose privileges it has: its own), and
// runs a plain DROP DATABASE, which itself stops autovacuum workers and waits
// up to 5 s for the terminated sessions to exit. While the database is still
// "being accessed by other users" (55006) it tries again, for DropRetryFor
// at most.
func dropDatabase(ctx context.Context, srv server, dbName string) error {
	db, err := maintenance(ctx, srv)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(DropRetryFor)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		if _, err := db.ExecContext(ctx,
			"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "+
				"WHERE datname = ? AND pid <> pg_backend_pid() AND usesysid IS NOT NULL AND pg_has_role(usesysid, 'USAGE')",
			dbName); err != nil {
			return fmt.Errorf("terminate our sessions on database %s: %w", dbName, err)
		}
		_, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS ?", bun.Ident(dbName))
		if err == nil {
			return nil
		}
		if sqlState(err) != "55006" || time.Now().Add(wait).After(deadline) { // 55006 object_in_use
			return fmt.Errorf("drop database %s: %w", dbName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop database %s: %w (gave up: %w)", dbName, err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// Exists reports whether the worker's database exists on the server of cfg.
// Tests use it to prove Destroy.
func Exists(ctx context.Context, cfg storage.Config) (bool, error) {
	opts, err := parseOptions(cfg.Options)
	if err != nil {
		return false, fmt.Errorf("postgres storage (worker %s): %w", cfg.WorkerID, err)
	}
	srv := opts.server
	dbName, err := DatabaseName(cfg.WorkerID)
	if err != nil {
		return false, err
	}
	db, err := maintenance(ctx, srv)
	if err != nil {
		return false, fmt.Errorf("postgres storage (worker %s): %w", cfg.WorkerID, err)
	}
	defer db.Close()
	return databaseExists(ctx, db, dbName)
}
