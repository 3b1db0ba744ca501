package sqlstore

// Import: replace the whole store with a snapshot (package snapshot), in one
// transaction.

import (
	"context"
	"fmt"
	"io"
	"math/bits"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/snapshot"
)

// ImportChunkRows is the most rows one INSERT of Import carries: far below
// the bind-parameter limits of both backends (SQLite 32766, PostgreSQL
// 65535) for the widest table, and a power of two, like every chunk Import
// inserts (see insertRows), so a table has only log2(ImportChunkRows)+1
// statement texts.
const ImportChunkRows = 256

// ImportChunkBytes bounds the text Import holds in memory before it inserts
// what it has read, whatever the number of rows: a snapshot may hold rows
// of several MB each.
const ImportChunkBytes = 4 << 20

// Import replaces the store's content — every table, the write-id records
// and the State — with the snapshot r holds, in one transaction, and
// returns the snapshot's State:
//
//	BEGIN
//	  DELETE FROM each table; DELETE FROM _rideshare_writes
//	  INSERT INTO t (…) VALUES (…), (…) …   -- ImportChunkRows rows at most
//	  INSERT INTO _rideshare_writes …       -- the records still in the window
//	  UPDATE _rideshare_state
//	COMMIT
//
// It commits only once the snapshot has been read whole, checked (package
// snapshot: format, types, key order, end line, nothing after it) and r has
// returned io.EOF; any error before — r's own included, even after the
// last byte — rolls everything back. Applies wait meanwhile; reads see the
// old content until the commit.
func (s *Store) Import(ctx context.Context, r io.Reader) (storage.State, error) {
	dec, err := snapshot.NewDecoder(r)
	if err != nil {
		return storage.State{}, fmt.Errorf("%s: import: %w", s.name, err)
	}
	st := dec.Header().State
	what := fmt.Sprintf("%s: import of the snapshot at seq %d", s.name, st.Seq)

	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return storage.State{}, fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	run := s.inTx(tx)

	for _, name := range append(tableNames(), WritesTable) {
		if _, err := run.exec(ctx, s.text(0).sql("DELETE FROM ").ident(name)); err != nil {
			return storage.State{}, fmt.Errorf("%s: empty table %q: %w", what, name, err)
		}
	}
	in := &inserter{s: s, r: run}
	for {
		it, err := dec.Next()
		if err == io.EOF { //nolint:errorlint // the decoder's own end; a reader's error wrapping io.EOF must not commit
			break
		}
		if err != nil {
			return storage.State{}, fmt.Errorf("%s: %w", what, err)
		}
		if err := in.add(ctx, it, st.Seq); err != nil {
			return storage.State{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := in.flush(ctx); err != nil {
		return storage.State{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := s.writeState(ctx, run, st); err != nil {
		return storage.State{}, err
	}
	if err := tx.Commit(); err != nil {
		return storage.State{}, fmt.Errorf("%s: commit: %w", what, err)
	}
	run.warm(ctx)
	return st, nil
}

func tableNames() []string {
	names := make([]string, len(dbapi.Schema))
	for i, t := range dbapi.Schema {
		names[i] = t.Name
	}
	return names
}

// inserter gathers the rows of one table (or the records) and inserts them
// in chunks.
type inserter struct {
	s     *Store
	r     *runner
	table dbapi.Table
	rows  [][]any
	bytes int
	recs  []writeRecord
}

// add takes the next row or record of a snapshot at seq.
func (in *inserter) add(ctx context.Context, it snapshot.Item, seq uint64) error {
	if it.Table == "" {
		rec := it.Record
		if !kept(rec.Seq, seq) {
			return nil // a writer that does not prune: out of the window
		}
		in.recs = append(in.recs, writeRecord{writeID: rec.WriteID, failed: rec.Failed,
			res: storage.Result{Seq: rec.Seq, RowsAffected: rec.RowsAffected, ID: rec.ID}})
		if len(in.recs) >= ImportChunkRows {
			return in.flush(ctx)
		}
		return nil
	}
	if it.Table != in.table.Name {
		if err := in.flush(ctx); err != nil {
			return err
		}
		in.table, _ = dbapi.LookupTable(it.Table) // the decoder checked the name
	}
	in.rows = append(in.rows, it.Row)
	for _, v := range it.Row {
		if x, ok := v.(string); ok {
			in.bytes += len(x)
		}
	}
	if len(in.rows) >= ImportChunkRows || in.bytes >= ImportChunkBytes {
		return in.flush(ctx)
	}
	return nil
}

// flush inserts what has been gathered.
func (in *inserter) flush(ctx context.Context) error {
	if err := in.s.insertRecords(ctx, in.r, in.recs); err != nil {
		return err
	}
	in.recs = in.recs[:0]
	if err := in.s.insertRows(ctx, in.r, in.table, in.rows); err != nil {
		return err
	}
	clear(in.rows) // let the values go
	in.rows, in.bytes = in.rows[:0], 0
	return nil
}

// insertRows inserts rows (values in column order) into t: each statement
// the largest power of two of rows that is left (200 rows: 128, 64, 8), so
// that a table has few statement texts to prepare.
func (s *Store) insertRows(ctx context.Context, r *runner, t dbapi.Table, rows [][]any) error {
	for len(rows) > 0 {
		n := 1 << (bits.Len(uint(min(len(rows), ImportChunkRows))) - 1)
		chunk := rows[:n]
		rows = rows[n:]
		q := s.text(n * len(t.Columns)).sql("INSERT INTO ").ident(t.Name).sql(" (")
		for i, c := range t.Columns {
			if i > 0 {
				q.sql(", ")
			}
			q.ident(c.Name)
		}
		q.sql(") VALUES ")
		for i, row := range chunk {
			if i > 0 {
				q.sql(", ")
			}
			q.sql("(")
			for j, v := range row {
				if j > 0 {
					q.sql(", ")
				}
				q.value(v)
			}
			q.sql(")")
		}
		if _, err := r.exec(ctx, q); err != nil {
			return fmt.Errorf("insert %d rows into table %q: %w", n, t.Name, err)
		}
	}
	return nil
}
