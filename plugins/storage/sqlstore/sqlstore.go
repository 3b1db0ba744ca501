// Package sqlstore is the SQL implementation of storage.Storage shared by the
// sqlite and postgres backends. It is dialect-agnostic: a backend opens a
// *bun.DB and describes its few differences in a Dialect; sqlstore does the
// rest.
//
// Invariants:
//   - Every identifier that reaches SQL comes from dbapi.Schema (or is one of
//     the two internal table names below) and is quoted with bun.Ident; every
//     value is a `?` argument formatted by bun's dialect, never spliced into
//     the query text by this package.
//   - The schema tables hold only the data; the replica's position (State) and
//     the record of applied write ids live in two internal tables whose names
//     start with "_rideshare_" (no schema table may), and are written in the
//     same transaction as the data they describe.
//   - Writes (Apply, Advance) are serialized inside the Store by a mutex; reads
//     (Read, State, Lookup, Hash) run concurrently with them.
//   - Hash covers the schema tables only, in primary-key order with bytewise
//     text ordering, so equal data gives equal hashes on every backend.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Names of the internal tables. No schema table may start with InternalPrefix.
const (
	InternalPrefix = "_rideshare_"
	StateTable     = InternalPrefix + "state"
	WritesTable    = InternalPrefix + "writes"
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
	name string
	d    Dialect
	rm   func(ctx context.Context) error

	wmu sync.Mutex // serializes Apply and Advance

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Storage = (*Store)(nil)

// New creates the schema tables and the internal tables when missing and
// returns the store. It owns db from now on: Close closes it. On error db is
// left open for the caller to close.
func New(ctx context.Context, db *bun.DB, opts Options) (*Store, error) {
	if opts.Dialect.IsUniqueViolation == nil || opts.Dialect.IntegerType == "" || opts.Dialect.TextType == "" {
		return nil, fmt.Errorf("%s: sqlstore: incomplete dialect", opts.Name)
	}
	s := &Store{db: db, name: opts.Name, d: opts.Dialect, rm: opts.Remove}
	if err := s.createTablesRetrying(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the underlying database (for tests and benchmarks).
func (s *Store) DB() *bun.DB { return s.db }

func (s *Store) colType(t dbapi.ColumnType) (string, error) {
	switch t {
	case dbapi.Integer:
		return s.d.IntegerType, nil
	case dbapi.Text:
		return s.d.TextType, nil
	}
	return "", fmt.Errorf("column type %q not supported", t)
}

// createTablesRetrying creates the schema. Two connections creating the same
// table at once (a worker and an operator opening its database) can make
// PostgreSQL's CREATE TABLE IF NOT EXISTS fail with a unique violation on its
// catalog; the loser simply tries again and finds the table there.
func (s *Store) createTablesRetrying(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.createTables(ctx); err == nil || !s.d.IsUniqueViolation(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) createTables(ctx context.Context) error {
	for _, t := range dbapi.Schema {
		if strings.HasPrefix(t.Name, InternalPrefix) {
			return fmt.Errorf("%s: schema table %q uses the internal prefix %q", s.name, t.Name, InternalPrefix)
		}
		var q strings.Builder
		args := []any{bun.Ident(t.Name)}
		q.WriteString("CREATE TABLE IF NOT EXISTS ? (")
		for _, c := range t.Columns {
			typ, err := s.colType(c.Type)
			if err != nil {
				return fmt.Errorf("%s: table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			q.WriteString("? ? NOT NULL, ")
			args = append(args, bun.Ident(c.Name), bun.Safe(typ))
		}
		q.WriteString("PRIMARY KEY (")
		for i, k := range t.PrimaryKey {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?")
			args = append(args, bun.Ident(k))
		}
		q.WriteString("))")
		if _, err := s.db.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("%s: create table %q: %w", s.name, t.Name, err)
		}
	}
	i, tx := bun.Safe(s.d.IntegerType), bun.Safe(s.d.TextType)
	if _, err := s.db.ExecContext(ctx,
		"CREATE TABLE IF NOT EXISTS ? (id ? NOT NULL PRIMARY KEY, seq ? NOT NULL, epoch ? NOT NULL, "+
			"stream_offset ? NOT NULL, next_id ? NOT NULL)",
		bun.Ident(StateTable), i, i, i, i, i); err != nil {
		return fmt.Errorf("%s: create table %q: %w", s.name, StateTable, err)
	}
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO ? (id, seq, epoch, stream_offset, next_id) VALUES (1, 0, 0, -1, 1) ON CONFLICT DO NOTHING",
		bun.Ident(StateTable)); err != nil {
		return fmt.Errorf("%s: initialise table %q: %w", s.name, StateTable, err)
	}
	if _, err := s.db.ExecContext(ctx,
		"CREATE TABLE IF NOT EXISTS ? (write_id ? NOT NULL PRIMARY KEY, seq ? NOT NULL, "+
			"rows_affected ? NOT NULL, id ? NOT NULL, failed ? NOT NULL)",
		bun.Ident(WritesTable), tx, i, i, i, i); err != nil {
		return fmt.Errorf("%s: create table %q: %w", s.name, WritesTable, err)
	}
	return nil
}

// ---------------------------------------------------------------- state

func (s *Store) readState(ctx context.Context, db bun.IConn) (storage.State, error) {
	var seq, epoch, off, next int64
	err := db.QueryRowContext(ctx,
		"SELECT seq, epoch, stream_offset, next_id FROM ? WHERE id = 1",
		bun.Ident(StateTable)).Scan(&seq, &epoch, &off, &next)
	if err != nil {
		return storage.State{}, fmt.Errorf("%s: read table %q: %w", s.name, StateTable, err)
	}
	return storage.State{Seq: uint64(seq), Epoch: uint64(epoch), Offset: off, NextID: next}, nil
}

func (s *Store) writeState(ctx context.Context, db bun.IConn, st storage.State) error {
	_, err := db.ExecContext(ctx,
		"UPDATE ? SET seq = ?, epoch = ?, stream_offset = ?, next_id = ? WHERE id = 1",
		bun.Ident(StateTable), int64(st.Seq), int64(st.Epoch), st.Offset, st.NextID)
	if err != nil {
		return fmt.Errorf("%s: write table %q: %w", s.name, StateTable, err)
	}
	return nil
}

// State returns the replica's position in the log. A fresh store is
// {Seq: 0, Epoch: 0, Offset: -1, NextID: 1}.
func (s *Store) State(ctx context.Context) (storage.State, error) {
	return s.readState(ctx, s.db)
}

// Advance records that the log was read up to offset at epoch without a write
// being applied: Epoch becomes max(Epoch, epoch), Offset becomes offset; Seq
// and NextID are unchanged.
func (s *Store) Advance(ctx context.Context, epoch uint64, offset int64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: advance: begin: %w", s.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	st, err := s.readState(ctx, tx)
	if err != nil {
		return err
	}
	st.Epoch = max(st.Epoch, epoch)
	st.Offset = offset
	if err := s.writeState(ctx, tx, st); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: advance: commit: %w", s.name, err)
	}
	return nil
}

// ---------------------------------------------------------------- writes

type writeRecord struct {
	res    storage.Result
	failed bool
}

func (s *Store) lookup(ctx context.Context, db bun.IConn, writeID string) (writeRecord, bool, error) {
	var seq, rows, id, failed int64
	err := db.QueryRowContext(ctx,
		"SELECT seq, rows_affected, id, failed FROM ? WHERE write_id = ?",
		bun.Ident(WritesTable), writeID).Scan(&seq, &rows, &id, &failed)
	if errors.Is(err, sql.ErrNoRows) {
		return writeRecord{}, false, nil
	}
	if err != nil {
		return writeRecord{}, false, fmt.Errorf("%s: read table %q: %w", s.name, WritesTable, err)
	}
	return writeRecord{
		res:    storage.Result{Seq: uint64(seq), RowsAffected: rows, ID: id},
		failed: failed != 0,
	}, true, nil
}

func (s *Store) record(ctx context.Context, db bun.IConn, writeID string, rec writeRecord) error {
	if writeID == "" {
		return nil
	}
	failed := int64(0)
	if rec.failed {
		failed = 1
	}
	_, err := db.ExecContext(ctx,
		"INSERT INTO ? (write_id, seq, rows_affected, id, failed) VALUES (?, ?, ?, ?, ?)",
		bun.Ident(WritesTable), writeID, int64(rec.res.Seq), rec.res.RowsAffected, rec.res.ID, failed)
	if err != nil {
		return fmt.Errorf("%s: write table %q: %w", s.name, WritesTable, err)
	}
	return nil
}

func (s *Store) constraintErr(writeID string, res storage.Result) error {
	return fmt.Errorf("%s: write %q (seq %d) was rejected: %w", s.name, writeID, res.Seq, storage.ErrConstraint)
}

// Lookup returns the recorded result of an applied write id. For a write that
// was rejected by a constraint on a real Apply it returns found=true together
// with an error wrapping storage.ErrConstraint, so a redelivery gets the same
// answer (409) again.
func (s *Store) Lookup(ctx context.Context, writeID string) (storage.Result, bool, error) {
	if writeID == "" {
		return storage.Result{}, false, nil
	}
	rec, ok, err := s.lookup(ctx, s.db, writeID)
	if err != nil || !ok {
		return storage.Result{}, ok, err
	}
	if rec.failed {
		return rec.res, true, s.constraintErr(writeID, rec.res)
	}
	return rec.res, true, nil
}

// Apply applies one write entry in one transaction together with the new
// State and the record of e.WriteID (see storage.Storage).
//
//   - insert into a table with an AutoID: the id is e.Write.Values[AutoID]
//     when present, State.NextID otherwise; Apply stores it into
//     e.Write.Values (so the caller publishes the id it learnt) and returns
//     it in Result.ID. NextID becomes max(NextID, id+1).
//   - State after the apply: Seq = e.Seq, Epoch = max(Epoch, e.Epoch),
//     Offset = offset.
//   - a primary-key/unique violation returns an error wrapping
//     storage.ErrConstraint; the data change is rolled back but the State
//     still advances and the write id is recorded as rejected.
//   - a write id that is already recorded is not applied again: its recorded
//     result is returned and only the State advances.
//   - a value that is not its column's type, or a text containing NUL, is a
//     *dbapi.InvalidError; nothing changes.
func (s *Store) Apply(ctx context.Context, e dbapi.Entry, offset int64) (storage.Result, error) {
	w := e.Write
	if w == nil {
		return storage.Result{}, fmt.Errorf("%s: apply seq %d: entry of kind %q carries no write", s.name, e.Seq, e.Kind)
	}
	p, err := plan(w)
	if err != nil {
		return storage.Result{}, fmt.Errorf("%s: apply seq %d: %w", s.name, e.Seq, err)
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return storage.Result{}, fmt.Errorf("%s: apply seq %d: begin: %w", s.name, e.Seq, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	st, err := s.readState(ctx, tx)
	if err != nil {
		return storage.Result{}, err
	}
	next := storage.State{Seq: e.Seq, Epoch: max(st.Epoch, e.Epoch), Offset: offset, NextID: st.NextID}

	if e.WriteID != "" {
		rec, ok, err := s.lookup(ctx, tx, e.WriteID)
		if err != nil {
			return storage.Result{}, err
		}
		if ok { // redelivered: never applied twice
			if err := s.writeState(ctx, tx, next); err != nil {
				return storage.Result{}, err
			}
			if err := tx.Commit(); err != nil {
				return storage.Result{}, fmt.Errorf("%s: apply seq %d: commit: %w", s.name, e.Seq, err)
			}
			if rec.failed {
				return rec.res, s.constraintErr(e.WriteID, rec.res)
			}
			return rec.res, nil
		}
	}

	res := storage.Result{Seq: e.Seq}
	if p.autoID != "" {
		id, given := w.Values[p.autoID]
		if given {
			res.ID = id.(int64) // plan normalized it
		} else {
			res.ID = st.NextID
			w.Values[p.autoID] = res.ID
		}
		next.NextID = max(st.NextID, res.ID+1)
	}

	rows, execErr := s.exec(ctx, tx, w)
	if execErr != nil {
		if !s.d.IsUniqueViolation(execErr) {
			return storage.Result{}, fmt.Errorf("%s: apply seq %d: %w", s.name, e.Seq, execErr)
		}
		cerr := fmt.Errorf("%s: apply seq %d: %w: %v", s.name, e.Seq, storage.ErrConstraint, execErr)
		res.RowsAffected = 0
		// Roll the data back but keep the log position: every replica skips
		// this entry alike.
		_ = tx.Rollback()
		next.NextID = st.NextID
		tx2, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return storage.Result{}, fmt.Errorf("%s: apply seq %d: begin: %w", s.name, e.Seq, err)
		}
		defer tx2.Rollback() //nolint:errcheck // no-op after Commit
		if err := s.writeState(ctx, tx2, next); err != nil {
			return storage.Result{}, err
		}
		if err := s.record(ctx, tx2, e.WriteID, writeRecord{res: res, failed: true}); err != nil {
			return storage.Result{}, err
		}
		if err := tx2.Commit(); err != nil {
			return storage.Result{}, fmt.Errorf("%s: apply seq %d: commit: %w", s.name, e.Seq, err)
		}
		return res, cerr
	}
	res.RowsAffected = rows

	if err := s.writeState(ctx, tx, next); err != nil {
		return storage.Result{}, err
	}
	if err := s.record(ctx, tx, e.WriteID, writeRecord{res: res}); err != nil {
		return storage.Result{}, err
	}
	if err := tx.Commit(); err != nil {
		return storage.Result{}, fmt.Errorf("%s: apply seq %d: commit: %w", s.name, e.Seq, err)
	}
	return res, nil
}

func describe(w *dbapi.WriteRequest) string {
	if w.Op == dbapi.OpClear {
		return "all tables"
	}
	return fmt.Sprintf("table %q", w.Table)
}

// writePlan is a checked write.
type writePlan struct {
	autoID string // the AutoID column of an insert, "" otherwise
}

// plan checks w against the schema and normalizes its values in place to
// int64/string. Table and column names are checked here so that exec only
// ever quotes names that the schema declares.
func plan(w *dbapi.WriteRequest) (writePlan, error) {
	switch w.Op {
	case dbapi.OpClear:
		return writePlan{}, nil
	case dbapi.OpInsert, dbapi.OpUpdate, dbapi.OpDelete:
	default:
		return writePlan{}, &dbapi.InvalidError{Msg: fmt.Sprintf("op: unknown op %q", w.Op)}
	}
	t, ok := dbapi.LookupTable(w.Table)
	if !ok {
		return writePlan{}, &dbapi.InvalidError{Msg: fmt.Sprintf("table: unknown table %q", w.Table)}
	}
	if err := bindAll(t, "values", w.Values); err != nil {
		return writePlan{}, err
	}
	if err := bindAll(t, "where", w.Where); err != nil {
		return writePlan{}, err
	}
	var p writePlan
	switch w.Op {
	case dbapi.OpInsert:
		if len(w.Where) > 0 {
			return writePlan{}, &dbapi.InvalidError{Msg: "where: not allowed on insert"}
		}
		for _, c := range t.Columns {
			if c.Name == t.AutoID {
				continue
			}
			if _, ok := w.Values[c.Name]; !ok {
				return writePlan{}, &dbapi.InvalidError{Msg: fmt.Sprintf("values.%s: missing", c.Name)}
			}
		}
		if t.AutoID != "" {
			if w.Values == nil {
				w.Values = map[string]any{}
			}
			p.autoID = t.AutoID
		}
	case dbapi.OpUpdate:
		if len(w.Values) == 0 {
			return writePlan{}, &dbapi.InvalidError{Msg: "values: update needs at least one column"}
		}
	case dbapi.OpDelete:
		if len(w.Values) > 0 {
			return writePlan{}, &dbapi.InvalidError{Msg: "values: not allowed on delete"}
		}
	}
	return p, nil
}

// bindAll normalizes every value of m to its column's Go type.
func bindAll(t dbapi.Table, field string, m map[string]any) error {
	for k, v := range m {
		c, ok := t.Column(k)
		if !ok {
			return &dbapi.InvalidError{Msg: fmt.Sprintf("%s.%s: unknown column in table %q", field, k, t.Name)}
		}
		b, err := bindValue(c, v)
		if err != nil {
			return &dbapi.InvalidError{Msg: fmt.Sprintf("%s.%s: %v", field, k, err)}
		}
		m[k] = b
	}
	return nil
}

// bindValue returns v as the Go type of column c: int64 or string. Integers
// may also come as json.Number or an integral float64, as they do in an entry
// decoded from JSON on a replica.
func bindValue(c dbapi.Column, v any) (any, error) {
	switch c.Type {
	case dbapi.Integer:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case int32:
			return int64(n), nil
		case json.Number: // an entry decoded with UseNumber
			i, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("want an integer, got %s", n)
			}
			return i, nil
		case float64: // an entry decoded by plain encoding/json
			if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
				return nil, fmt.Errorf("want an integer, got %v", n)
			}
			return int64(n), nil
		}
		return nil, fmt.Errorf("want an integer, got %T", v)
	case dbapi.Text:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %T", v)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("text must not contain a NUL character")
		}
		return s, nil
	}
	return nil, fmt.Errorf("column type %q not supported", c.Type)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendWhere appends " WHERE a = ? AND b = ?" for m (keys in sorted order).
func appendWhere(q *strings.Builder, args []any, m map[string]any) []any {
	for i, k := range sortedKeys(m) {
		if i == 0 {
			q.WriteString(" WHERE ? = ?")
		} else {
			q.WriteString(" AND ? = ?")
		}
		args = append(args, bun.Ident(k), m[k])
	}
	return args
}

// exec runs a planned write and returns the rows it affected.
func (s *Store) exec(ctx context.Context, tx bun.Tx, w *dbapi.WriteRequest) (int64, error) {
	if w.Op == dbapi.OpClear {
		var total int64
		for _, t := range dbapi.Schema {
			r, err := tx.ExecContext(ctx, "DELETE FROM ?", bun.Ident(t.Name))
			if err != nil {
				return 0, fmt.Errorf("clear table %q: %w", t.Name, err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return 0, fmt.Errorf("clear table %q: %w", t.Name, err)
			}
			total += n
		}
		return total, nil
	}
	var q strings.Builder
	args := []any{bun.Ident(w.Table)}
	switch w.Op {
	case dbapi.OpInsert:
		keys := sortedKeys(w.Values)
		q.WriteString("INSERT INTO ? (")
		for i, k := range keys {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?")
			args = append(args, bun.Ident(k))
		}
		q.WriteString(") VALUES (")
		for i, k := range keys {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?")
			args = append(args, w.Values[k])
		}
		q.WriteString(")")
	case dbapi.OpUpdate:
		q.WriteString("UPDATE ? SET ")
		for i, k := range sortedKeys(w.Values) {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("? = ?")
			args = append(args, bun.Ident(k), w.Values[k])
		}
		args = appendWhere(&q, args, w.Where)
	case dbapi.OpDelete:
		q.WriteString("DELETE FROM ?")
		args = appendWhere(&q, args, w.Where)
	}
	r, err := tx.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", w.Op, describe(w), err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", w.Op, describe(w), err)
	}
	return n, nil
}

// ---------------------------------------------------------------- reads

// Read runs a read: the requested columns (all when none) of the rows whose
// columns equal every where value, ordered by q.OrderBy and then by primary
// key (so the answer is deterministic), at most q.Limit rows (0: no limit).
// Rows hold int64 for integer columns and string for text columns. Names are
// checked against the schema; a bad name or value is a *dbapi.InvalidError.
func (s *Store) Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error) {
	t, ok := dbapi.LookupTable(q.Table)
	if !ok {
		return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("table: unknown table %q", q.Table)})
	}
	cols := make([]dbapi.Column, 0, len(q.Columns))
	if len(q.Columns) == 0 {
		cols = append(cols, t.Columns...)
	}
	for i, name := range q.Columns {
		c, ok := t.Column(name)
		if !ok {
			return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("columns[%d]: unknown column %q in table %q", i, name, t.Name)})
		}
		cols = append(cols, c)
	}
	where := make(map[string]any, len(q.Where))
	for k, v := range q.Where {
		where[k] = v
	}
	if err := bindAll(t, "where", where); err != nil {
		return nil, fmt.Errorf("%s: read: %w", s.name, err)
	}
	if q.Limit < 0 {
		return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("limit: must not be negative, got %d", q.Limit)})
	}

	var b strings.Builder
	args := make([]any, 0, 2*len(cols)+2*len(where)+2*len(t.PrimaryKey)+4)
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, bun.Ident(c.Name))
	}
	b.WriteString(" FROM ?")
	args = append(args, bun.Ident(t.Name))
	args = appendWhere(&b, args, where)
	b.WriteString(" ORDER BY ")
	if col, desc := q.OrderColumn(); col != "" {
		c, ok := t.Column(col)
		if !ok {
			return nil, fmt.Errorf("%s: read: %w", s.name, &dbapi.InvalidError{Msg: fmt.Sprintf("order_by: unknown column %q in table %q", col, t.Name)})
		}
		b.WriteString("? ")
		args = append(args, bun.Ident(c.Name))
		if desc {
			b.WriteString("DESC, ")
		} else {
			b.WriteString("ASC, ")
		}
	}
	args = appendPK(&b, args, t)
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, int64(q.Limit))
	}

	rows, err := s.db.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
	}
	defer rows.Close()
	out := []map[string]any{}
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			v, err := normalize(c, raw[i])
			if err != nil {
				return nil, fmt.Errorf("%s: read table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			row[c.Name] = v
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: read table %q: %w", s.name, t.Name, err)
	}
	return out, nil
}

func appendPK(b *strings.Builder, args []any, t dbapi.Table) []any {
	for i, k := range t.PrimaryKey {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("? ASC")
		args = append(args, bun.Ident(k))
	}
	return args
}

// normalize turns a driver value into the column's Go type.
func normalize(c dbapi.Column, v any) (any, error) {
	switch c.Type {
	case dbapi.Integer:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int32:
			return int64(n), nil
		case int:
			return int64(n), nil
		case []byte:
			return strconv.ParseInt(string(n), 10, 64)
		case string:
			return strconv.ParseInt(n, 10, 64)
		}
	case dbapi.Text:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a %s column", v, c.Type)
}

// Hash is the hex sha256 of every schema table's rows, tables in schema order,
// rows in primary-key order (bytewise for text), in a canonical encoding:
//
//	table: 'T' len(name) name ncols {len(col) col}  then every row, then 'E' nrows
//	row:   'R' then per column: 'i' int64 (big endian) | 's' len bytes
//
// lengths and counts are uvarints. Internal tables are excluded, so replicas
// with equal data have equal hashes whatever their log positions, on any
// backend. It reads one consistent snapshot.
func (s *Store) Hash(ctx context.Context) (string, error) {
	opts := s.d.Snapshot
	tx, err := s.db.BeginTx(ctx, &opts)
	if err != nil {
		return "", fmt.Errorf("%s: hash: begin: %w", s.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	h := sha256.New()
	for _, t := range dbapi.Schema {
		if err := s.hashTable(ctx, tx, h, t); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Store) hashTable(ctx context.Context, tx bun.Tx, h hash.Hash, t dbapi.Table) error {
	var buf []byte
	str := func(b []byte, x string) []byte {
		b = binary.AppendUvarint(b, uint64(len(x)))
		return append(b, x...)
	}
	buf = append(buf, 'T')
	buf = str(buf, t.Name)
	buf = binary.AppendUvarint(buf, uint64(len(t.Columns)))
	for _, c := range t.Columns {
		buf = str(buf, c.Name)
	}
	h.Write(buf)

	var b strings.Builder
	args := []any{}
	b.WriteString("SELECT ")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		args = append(args, bun.Ident(c.Name))
	}
	b.WriteString(" FROM ? ORDER BY ")
	args = append(args, bun.Ident(t.Name))
	args = appendPK(&b, args, t)
	rows, err := tx.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
	}
	defer rows.Close()
	raw := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var n uint64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
		}
		buf = append(buf[:0], 'R')
		for i, c := range t.Columns {
			v, err := normalize(c, raw[i])
			if err != nil {
				return fmt.Errorf("%s: hash table %q column %q: %w", s.name, t.Name, c.Name, err)
			}
			switch x := v.(type) {
			case int64:
				buf = append(buf, 'i')
				buf = binary.BigEndian.AppendUint64(buf, uint64(x))
			case string:
				buf = append(buf, 's')
				buf = str(buf, x)
			}
		}
		h.Write(buf)
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: hash table %q: %w", s.name, t.Name, err)
	}
	buf = append(buf[:0], 'E')
	buf = binary.AppendUvarint(buf, n)
	h.Write(buf)
	return nil
}

// ---------------------------------------------------------------- lifecycle

// Close releases the database, keeping its data. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("%s: close: %w", s.name, err)
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
