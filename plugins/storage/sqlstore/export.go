package sqlstore

// Export: the whole store as a snapshot (package snapshot), read in one
// read-only transaction.

import (
	"context"
	"fmt"
	"io"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/snapshot"
)

// Export writes a snapshot of the store to w: its State, every table in
// primary-key order and the write-id records still in the window
// (storage.WriteIDWindow), in write-id order. It reads in the dialect's
// Snapshot transaction — on SQLite (WAL) a deferred read transaction, whose
// snapshot is fixed by its first read, on PostgreSQL REPEATABLE READ READ
// ONLY — so Apply goes on committing while it runs (however slowly w
// takes the bytes) and the copy is exactly the store at the State it
// returns.
func (s *Store) Export(ctx context.Context, w io.Writer) (storage.State, error) {
	opts := s.d.Snapshot
	tx, err := s.sql.BeginTx(ctx, &opts)
	if err != nil {
		return storage.State{}, fmt.Errorf("%s: export: begin: %w", s.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	r := s.inTx(tx)
	st, err := s.readState(ctx, r) // the first read: on SQLite it fixes the snapshot
	if err != nil {
		return storage.State{}, err
	}
	enc, err := snapshot.NewEncoder(w, st)
	if err != nil {
		return storage.State{}, fmt.Errorf("%s: export at seq %d: %w", s.name, st.Seq, err)
	}
	for _, t := range dbapi.Schema {
		err := s.eachRow(ctx, r, t, func(row []any) error { return enc.Row(t.Name, row) })
		if err != nil {
			return storage.State{}, fmt.Errorf("%s: export at seq %d: table %q: %w", s.name, st.Seq, t.Name, err)
		}
	}
	if err := s.exportRecords(ctx, r, enc, st.Seq); err != nil {
		return storage.State{}, err
	}
	if err := enc.Close(); err != nil {
		return storage.State{}, fmt.Errorf("%s: export at seq %d: %w", s.name, st.Seq, err)
	}
	// warm prepares on the pool: give the connection back first (see Hash).
	tx.Rollback() //nolint:errcheck // read-only
	r.warm(ctx)
	return st, nil
}

// exportRecords writes the records still in the window at seq.
func (s *Store) exportRecords(ctx context.Context, r *runner, enc *snapshot.Encoder, seq uint64) error {
	floor := int64(seq) - storage.WriteIDWindow // kept: seq > floor
	q := s.text(1).sql("SELECT write_id, seq, rows_affected, id, failed FROM ").ident(WritesTable).
		sql(" WHERE seq > ").value(floor).sql(" ORDER BY write_id")
	rows, done, err := r.query(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: export at seq %d: read table %q: %w", s.name, seq, WritesTable, err)
	}
	defer done()
	defer rows.Close()
	for rows.Next() {
		var rec snapshot.Record
		var recSeq int64
		if err := rows.Scan(&rec.WriteID, &recSeq, &rec.RowsAffected, &rec.ID, &rec.Failed); err != nil {
			return fmt.Errorf("%s: export at seq %d: read table %q: %w", s.name, seq, WritesTable, err)
		}
		rec.Seq = uint64(recSeq)
		if err := enc.Record(rec); err != nil {
			return fmt.Errorf("%s: export at seq %d: %w", s.name, seq, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: export at seq %d: read table %q: %w", s.name, seq, WritesTable, err)
	}
	return nil
}

// eachRow calls fn with every row of t in primary-key order, its values in
// column order as int64 or string. The slice is reused: fn must not keep it.
func (s *Store) eachRow(ctx context.Context, r *runner, t dbapi.Table, fn func(row []any) error) error {
	q := s.text(0).sql("SELECT ")
	for i, c := range t.Columns {
		if i > 0 {
			q.sql(", ")
		}
		q.ident(c.Name)
	}
	q.sql(" FROM ").ident(t.Name).sql(" ORDER BY ")
	appendPK(q, t)
	rows, done, err := r.query(ctx, q)
	if err != nil {
		return err
	}
	defer done()
	defer rows.Close()
	raw := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	row := make([]any, len(t.Columns))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, c := range t.Columns {
			if row[i], err = normalize(c, raw[i]); err != nil {
				return fmt.Errorf("column %q: %w", c.Name, err)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}
