package sqlstore

// SQL text and prepared statements: identifiers quoted by the dialect, values
// as the dialect's placeholders bound by the driver, and one prepared
// statement per text, kept for the life of the store.

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
)

// PlaceholderStyle is how a driver spells a bound parameter in SQL text.
type PlaceholderStyle int

const (
	// QuestionMark: `?` for every parameter, in order (SQLite).
	QuestionMark PlaceholderStyle = iota + 1
	// DollarNumber: `$1`, `$2`, … (PostgreSQL).
	DollarNumber
)

// AppendDoubleQuoted appends name as a double-quoted SQL identifier, a `"`
// inside it doubled: the standard quoting, which SQLite and PostgreSQL share.
func AppendDoubleQuoted(b []byte, name string) []byte {
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, name[i])
	}
	return append(b, '"')
}

// sqlText builds one statement. Its text depends only on the statement's
// shape (names, how many values, where they go), never on the values, which
// go to args: so every statement of one shape shares one prepared statement.
type sqlText struct {
	d    *Dialect
	b    []byte
	args []any
}

func (s *Store) text(nargs int) *sqlText {
	return &sqlText{d: &s.d, b: make([]byte, 0, 160), args: make([]any, 0, nargs)}
}

// sql appends SQL that carries neither a name nor a value.
func (q *sqlText) sql(s string) *sqlText {
	q.b = append(q.b, s...)
	return q
}

// ident appends a quoted identifier. Names come from dbapi.Schema or are the
// internal table names, never from a request: a request's names are looked
// up in the schema first.
func (q *sqlText) ident(name string) *sqlText {
	q.b = q.d.QuoteIdent(q.b, name)
	return q
}

// value appends a placeholder bound to v.
func (q *sqlText) value(v any) *sqlText {
	q.args = append(q.args, v)
	if q.d.Placeholder == DollarNumber {
		q.b = append(q.b, '$')
		q.b = strconv.AppendInt(q.b, int64(len(q.args)), 10)
	} else {
		q.b = append(q.b, '?')
	}
	return q
}

// MaxPrepared bounds the statements a store keeps prepared. The shapes are
// finite but many (column lists in any order and with repeats, subsets of
// where keys, order columns), so a caller sending ever new shapes must not
// grow the cache, nor the prepared statements every pooled connection (and
// the PostgreSQL server) holds, without bound. A shape that finds the cache
// full is prepared for its one use and closed after it: always bound, only
// not reused.
const MaxPrepared = 512

// stmtCache is the store's prepared statements by text, prepared on the pool
// (database/sql prepares each again, transparently, on the other pooled
// connections it runs on).
type stmtCache struct {
	db *sql.DB
	// A map under a RWMutex rather than a sync.Map: a hit looks the text up
	// by m[string(bytes)] without allocating the key.
	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

// get returns the cached statement of text, preparing and caching it when
// there is room. cached is false when there is none: the caller prepares its
// own for one use.
func (c *stmtCache) get(ctx context.Context, text []byte) (st *sql.Stmt, cached bool, err error) {
	st, full := c.peek(text)
	if st != nil || full {
		return st, st != nil, nil
	}
	q := string(text)
	st, err = c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[q]; old != nil { // prepared meanwhile by another caller
		st.Close()
		return old, true, nil
	}
	if c.closed || len(c.m) >= MaxPrepared {
		st.Close()
		return nil, false, nil
	}
	c.m[q] = st
	return st, true, nil
}

// lookup returns the cached statement of text, or nil.
func (c *stmtCache) lookup(text []byte) *sql.Stmt {
	st, _ := c.peek(text)
	return st
}

// peek returns the cached statement of text, or nil and whether there is no
// room for it.
func (c *stmtCache) peek(text []byte) (st *sql.Stmt, full bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st = c.m[string(text)]
	return st, st == nil && (len(c.m) >= MaxPrepared || c.closed)
}

// close closes every cached statement; nothing is cached afterwards.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = fmt.Errorf("close statement %q: %w", q, err)
		}
		delete(c.m, q)
	}
	return first
}

// warm caches the statements of texts that a transaction prepared for
// itself, now that it has ended; errors are left to the next use.
func (c *stmtCache) warm(ctx context.Context, texts map[string]*sql.Stmt) {
	for q := range texts {
		if ctx.Err() != nil {
			return
		}
		c.get(ctx, []byte(q)) //nolint:errcheck // only a cache fill
	}
}

// runner runs statements on the pool, or inside tx when it is not nil, always
// through a prepared statement: the driver binds every value. (pgdriver
// formats the arguments of an unprepared statement into its text, client
// side; only a prepared one sends them apart, in Bind.)
type runner struct {
	s  *Store
	tx *sql.Tx
	// inTx are the transaction's copies of cached statements: a batch of
	// like writes binds its copy once (tx.StmtContext allocates one per call).
	inTx map[*sql.Stmt]*sql.Stmt
	// own are the statements the transaction prepared itself, by text, for
	// texts not cached yet. A transaction never prepares on the pool: that
	// needs a second connection, and with a small pool (max_open_conns 1, or
	// an Apply and a Hash each holding one of 2) it would wait forever for
	// one. The caller caches them with warm once the transaction has ended.
	own map[string]*sql.Stmt
}

func (s *Store) pool() *runner           { return &runner{s: s} }
func (s *Store) inTx(tx *sql.Tx) *runner { return &runner{s: s, tx: tx} }

// warm caches what the transaction prepared for itself; call it once the
// transaction has ended.
func (r *runner) warm(ctx context.Context) { r.s.stmts.warm(ctx, r.own) }

// stmt returns the statement to run q with; done closes it when it was
// prepared for this one use (call it after the rows are closed).
func (r *runner) stmt(ctx context.Context, q *sqlText) (st *sql.Stmt, done func(), err error) {
	noop := func() {}
	if r.tx != nil {
		return r.txStmt(ctx, q)
	}
	st, cached, err := r.s.stmts.get(ctx, q.b)
	if err != nil || cached {
		return st, noop, err
	}
	one, err := r.s.sql.PrepareContext(ctx, string(q.b))
	if err != nil {
		return nil, nil, err
	}
	return one, func() { one.Close() }, nil
}

func (r *runner) txStmt(ctx context.Context, q *sqlText) (*sql.Stmt, func(), error) {
	noop := func() {}
	if st := r.s.stmts.lookup(q.b); st != nil {
		if txst, ok := r.inTx[st]; ok {
			return txst, noop, nil
		}
		txst := r.tx.StmtContext(ctx, st) // closed when the transaction ends
		if r.inTx == nil {
			r.inTx = make(map[*sql.Stmt]*sql.Stmt)
		}
		r.inTx[st] = txst
		return txst, noop, nil
	}
	if st, ok := r.own[string(q.b)]; ok {
		return st, noop, nil
	}
	text := string(q.b)
	st, err := r.tx.PrepareContext(ctx, text) // closed when the transaction ends
	if err != nil {
		return nil, nil, err
	}
	if r.own == nil {
		r.own = make(map[string]*sql.Stmt)
	}
	r.own[text] = st
	return st, noop, nil
}

// query runs q; the caller closes the rows, then calls done.
func (r *runner) query(ctx context.Context, q *sqlText) (rows *sql.Rows, done func(), err error) {
	st, done, err := r.stmt(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	rows, err = st.QueryContext(ctx, q.args...)
	if err != nil {
		done()
		return nil, nil, err
	}
	return rows, done, nil
}

// queryRow runs q and scans its one row into dest.
func (r *runner) queryRow(ctx context.Context, q *sqlText, dest ...any) error {
	st, done, err := r.stmt(ctx, q)
	if err != nil {
		return err
	}
	defer done()
	return st.QueryRowContext(ctx, q.args...).Scan(dest...)
}

// exec runs q and returns the rows it affected.
func (r *runner) exec(ctx context.Context, q *sqlText) (int64, error) {
	st, done, err := r.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := st.ExecContext(ctx, q.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
