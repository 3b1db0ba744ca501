// Package sqlstore is the SQL implementation of storage.Storage shared by the
// sqlite and postgres backends. It is dialect-agnostic: a backend opens a
// *bun.DB and describes its few differences in a Dialect; sqlstore does the
// rest, on the *sql.DB under it.
//
// Invariants:
//   - Every identifier that reaches SQL comes from dbapi.Schema (or is one of
//     the two internal table names below) and is quoted by the dialect;
//     every value is a bound parameter (the dialect's placeholder in the
//     text), never spliced into SQL. So a statement's text depends only on
//     its shape, and each text is prepared once per store and reused
//     (stmt.go); statements run prepared even when the cache is full,
//     because pgdriver splices the arguments of an unprepared statement into
//     its text client side.
//   - The schema tables hold only the data; the replica's position (State) and
//     the record of applied write ids live in two internal tables whose names
//     start with "_rideshare_" (no schema table may), and are written in the
//     same transaction as the data they describe.
//   - Apply commits a whole batch of writes in one transaction (group
//     commit): State is read once and written once. A primary-key violation
//     undoes that write only (an insert does nothing ON CONFLICT, an update
//     of a key column runs inside a savepoint) and the batch goes on.
//   - Applies are serialized inside the Store by a mutex; reads (Read, State,
//     Lookup, Hash) run concurrently with them.
//   - Hash covers the schema tables only, in primary-key order with bytewise
//     text ordering, so equal data gives equal hashes on every backend.
//   - A write-id record is answered from only while it is within
//     storage.WriteIDWindow of the newest seq; Apply deletes older ones
//     every PruneEvery seqs. Export copies the kept ones.
//   - Export reads everything in one read-only transaction (Apply goes on);
//     Import replaces everything in one write transaction, committed only
//     once the snapshot has been read whole and checked (package snapshot).
//
// Files: schema.go creates the tables, state.go is the State row, records.go
// the write-id records and their window, apply.go the batch transaction,
// write.go checks and executes one write, read.go and hash.go read,
// export.go and import.go the snapshots, stmt.go builds the SQL text and
// keeps the prepared statements.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/uptrace/bun"

	"github.com/rideshare/dbaas/plugins/storage"
)

// Names of the internal tables. No schema table may start with InternalPrefix.
const (
	InternalPrefix = "_rideshare_"
	StateTable     = InternalPrefix + "state"
	WritesTable    = InternalPrefix + "writes"
	// WritesSeqIndex indexes WritesTable by seq, for pruneRecords.
	WritesSeqIndex = InternalPrefix + "writes_seq"
)

// Dialect is what differs between backends.
type Dialect struct {
	// IntegerType and TextType are the DDL types of dbapi.Integer and
	// dbapi.Text columns. TextType must compare and order bytewise (sqlite's
	// default BINARY collation, `TEXT COLLATE "C"` on PostgreSQL), so that
	// ordering and Hash agree across backends.
	IntegerType string
	TextType    string
	// Snapshot are the options of the read-only transaction Hash reads in; it
	// must see one consistent snapshot of all tables.
	Snapshot sql.TxOptions
	// IsUniqueViolation reports whether a driver error is a primary-key or
	// unique constraint violation.
	IsUniqueViolation func(error) bool
	// Placeholder is how the driver spells a bound parameter.
	Placeholder PlaceholderStyle
	// QuoteIdent appends name quoted as an identifier (AppendDoubleQuoted on
	// both backends).
	QuoteIdent func(b []byte, name string) []byte
	// TextKey, when set, is how a text column of a primary key is indexed:
	// for a backend whose index refuses long entries (PostgreSQL's B-tree
	// takes about 2.7 kB), while names and values of any length must be
	// stored. Nil: a plain PRIMARY KEY (sqlite has no such limit).
	TextKey *TextKey
}

// TextKey replaces a PRIMARY KEY that has text columns by a unique index
// over the key with each text column passed through Func (a fixed-size
// digest, so the entry is short whatever the text), and a hash index on
// each text key column, which keeps equality lookups indexed (a hash index
// stores the hash, never the text).
type TextKey struct {
	// Func names the immutable function of one text argument that the
	// unique index applies; InternalPrefix-named.
	Func string
	// Create is the DDL that creates Func, run once per Open before the
	// tables; it must succeed when Func exists already (even when a
	// concurrent Open creates it at the same time).
	Create string
}

// Options describe one store.
type Options struct {
	// Name prefixes every error, e.g. `sqlite storage (worker w1, /data/w1.db)`.
	Name string
	// Dialect are the backend's differences.
	Dialect Dialect
	// Remove deletes the database for good; Destroy calls it after Close.
	Remove func(ctx context.Context) error
}

// Store is one replica's database; it implements storage.Storage.
type Store struct {
	db   *bun.DB
	sql  *sql.DB // db's; every statement runs on it, bun formats none
	name string
	d    Dialect
	rm   func(ctx context.Context) error

	stmts *stmtCache

	wmu sync.Mutex // serializes Apply

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Storage = (*Store)(nil)

// New creates the schema tables and the internal tables when missing and
// returns the store. It owns db from now on: Close closes it. On error db is
// left open for the caller to close.
func New(ctx context.Context, db *bun.DB, opts Options) (*Store, error) {
	d := opts.Dialect
	if d.IsUniqueViolation == nil || d.IntegerType == "" || d.TextType == "" || d.QuoteIdent == nil ||
		(d.Placeholder != QuestionMark && d.Placeholder != DollarNumber) {
		return nil, fmt.Errorf("%s: sqlstore: incomplete dialect", opts.Name)
	}
	s := &Store{db: db, sql: db.DB, name: opts.Name, d: d, rm: opts.Remove, stmts: newStmtCache(db.DB)}
	if err := s.createTablesRetrying(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the underlying database (for tests and benchmarks).
func (s *Store) DB() *bun.DB { return s.db }

// Close releases the database and its prepared statements, keeping its
// data. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		serr := s.stmts.close()
		if serr != nil {
			serr = fmt.Errorf("%s: close: %w", s.name, serr)
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = errors.Join(serr, fmt.Errorf("%s: close: %w", s.name, err))
		} else {
			s.closeErr = serr
		}
	})
	return s.closeErr
}

// Destroy closes the store and deletes its database for good.
func (s *Store) Destroy(ctx context.Context) error {
	cerr := s.Close()
	if s.rm == nil {
		return errors.Join(cerr, fmt.Errorf("%s: destroy: backend cannot remove its database", s.name))
	}
	if err := s.rm(ctx); err != nil {
		return errors.Join(cerr, fmt.Errorf("%s: destroy: %w", s.name, err))
	}
	return cerr
}
