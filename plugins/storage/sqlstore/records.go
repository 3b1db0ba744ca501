package sqlstore

// The record of applied write ids (WritesTable): what a redelivered write is
// answered with instead of being applied twice.

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/snapshot"
)

// Values of the writes table's `failed` column: the snapshot format's, so
// records travel through Export and Import as they are.
const (
	failedNone     = snapshot.FailedNone     // applied
	failedConflict = snapshot.FailedConflict // primary-key/unique violation, rolled back (409)
	failedInvalid  = snapshot.FailedInvalid  // not valid against the schema, changed nothing (400)
)

// Chunks that keep a statement far below the bind-variable limits of both
// backends (SQLite 32766, PostgreSQL 65535) and its text reasonably short.
// Both are powers of two: a statement carries a power of two of ids or rows
// (see lookupRecords, insertRecords), so that there are few texts to
// prepare (10 lookups, 8 inserts) rather than one per batch size.
const (
	lookupChunk = 512 // write ids per SELECT … IN
	recordChunk = 128 // rows per multi-row INSERT (5 values each)
)

// writeRecord is one row of the writes table.
type writeRecord struct {
	writeID string
	res     storage.Result
	failed  int64
}

// recordOf is the record of a write applied (or refused) now.
func recordOf(writeID string, o storage.Outcome) writeRecord {
	rec := writeRecord{writeID: writeID, res: o.Result}
	switch {
	case o.Invalid != "":
		rec.failed = failedInvalid
	case o.Conflict:
		rec.failed = failedConflict
	}
	return rec
}

// outcome is the recorded answer to a redelivery. reason, the redelivered
// write's own schema error (if any), says why an invalid write was refused:
// the record keeps only that it was.
func (r writeRecord) outcome(reason string) storage.Outcome {
	o := storage.Outcome{Result: r.res, Redelivered: true}
	switch r.failed {
	case failedNone:
	case failedInvalid:
		o.Invalid = reason
		if o.Invalid == "" {
			o.Invalid = invalidRecorded(r.writeID, r.res.Seq)
		}
	default: // failedConflict, and any older nonzero value
		o.Conflict = true
	}
	return o
}

// invalidRecorded is the message of a write recorded as invalid when its
// original reason is not at hand (the record does not keep the text).
func invalidRecorded(writeID string, seq uint64) string {
	return fmt.Sprintf("write %q (seq %d) was refused: it does not fit the schema", writeID, seq)
}

// lookupRecords returns the records of the given write ids that exist, by id.
func (s *Store) lookupRecords(ctx context.Context, r *runner, ids []string) (map[string]writeRecord, error) {
	recs := make(map[string]writeRecord, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), lookupChunk)]
		ids = ids[len(chunk):]
		if err := s.scanRecords(ctx, r, recs, chunk); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// scanRecords looks ids up in one statement. It binds a power of two of ids,
// the last one repeated up to it: IN matches each row once whatever repeats.
// A record that fell out of the window (kept) is not found, whether or not
// pruneRecords has deleted it yet; the statement reads the newest seq
// itself, so a Lookup outside a transaction needs no second one.
func (s *Store) scanRecords(ctx context.Context, r *runner, into map[string]writeRecord, ids []string) error {
	n := 1 << bits.Len(uint(len(ids)-1)) // the least power of two >= len(ids)
	q := s.text(n + 1).sql("SELECT write_id, seq, rows_affected, id, failed FROM ").ident(WritesTable).sql(" WHERE write_id IN (")
	for i := 0; i < n; i++ {
		if i > 0 {
			q.sql(", ")
		}
		q.value(ids[min(i, len(ids)-1)])
	}
	q.sql(") AND seq > (SELECT seq FROM ").ident(StateTable).sql(" WHERE id = 1) - ").value(int64(storage.WriteIDWindow))
	rows, done, err := r.query(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: read table %q (%d write ids from %q): %w", s.name, WritesTable, len(ids), ids[0], err)
	}
	defer done()
	defer rows.Close()
	for rows.Next() {
		var rec writeRecord
		var seq int64
		if err := rows.Scan(&rec.writeID, &seq, &rec.res.RowsAffected, &rec.res.ID, &rec.failed); err != nil {
			return fmt.Errorf("%s: read table %q: %w", s.name, WritesTable, err)
		}
		rec.res.Seq = uint64(seq)
		into[rec.writeID] = rec
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: read table %q: %w", s.name, WritesTable, err)
	}
	return nil
}

// PruneEvery is how often Apply deletes the records that fell out of
// storage.WriteIDWindow: whenever the seq crosses a multiple of it. The
// DELETE then removes about PruneEvery rows through the index on seq
// (WritesSeqIndex), instead of running with every batch.
const PruneEvery = 1024

// kept reports whether a record of seq is still within the window when
// newest is the last applied seq (storage.WriteIDWindow): Apply and Lookup
// answer from a record only then, so the answer never depends on when
// pruneRecords last ran, nor on whether the store was seeded by Import.
func kept(seq, newest uint64) bool { return seq+storage.WriteIDWindow > newest }

// pruneRecords deletes the records out of the window once the seq moves
// from `from` across a multiple of PruneEvery to `to`.
func (s *Store) pruneRecords(ctx context.Context, r *runner, from, to uint64) error {
	if from/PruneEvery == to/PruneEvery || to < storage.WriteIDWindow {
		return nil
	}
	floor := to - storage.WriteIDWindow // every seq <= floor is out of the window
	q := s.text(1).sql("DELETE FROM ").ident(WritesTable).sql(" WHERE seq <= ").value(int64(floor))
	if _, err := r.exec(ctx, q); err != nil {
		return fmt.Errorf("%s: prune table %q (records of seq <= %d): %w", s.name, WritesTable, floor, err)
	}
	return nil
}

// insertRecords adds new records, up to recordChunk per statement: each
// statement inserts the largest power of two of rows that is left (200
// records: 128, 64, 8), so there are only log2(recordChunk)+1 texts.
func (s *Store) insertRecords(ctx context.Context, r *runner, recs []writeRecord) error {
	for len(recs) > 0 {
		n := 1 << (bits.Len(uint(min(len(recs), recordChunk))) - 1)
		chunk := recs[:n]
		recs = recs[n:]
		q := s.text(5 * n).sql("INSERT INTO ").ident(WritesTable).sql(" (write_id, seq, rows_affected, id, failed) VALUES ")
		for i, rec := range chunk {
			if i > 0 {
				q.sql(", ")
			}
			q.sql("(").value(rec.writeID).sql(", ").value(int64(rec.res.Seq)).sql(", ").value(rec.res.RowsAffected).
				sql(", ").value(rec.res.ID).sql(", ").value(rec.failed).sql(")")
		}
		// A record out of the window that pruneRecords has not deleted yet
		// is not found (scanRecords), so its write id is applied again and
		// its new record replaces the old one.
		q.sql(" ON CONFLICT (write_id) DO UPDATE SET seq = excluded.seq, rows_affected = excluded.rows_affected, " +
			"id = excluded.id, failed = excluded.failed")
		if _, err := r.exec(ctx, q); err != nil {
			return fmt.Errorf("%s: write table %q (%d records from write %q): %w", s.name, WritesTable, len(chunk), chunk[0].writeID, err)
		}
	}
	return nil
}

// Lookup returns the recorded result of an applied write id. A write that was
// refused returns found=true together with an error, so a redelivery gets
// the same answer again: one wrapping storage.ErrConstraint for a
// primary-key/unique violation (409), one wrapping a *dbapi.InvalidError for
// a write that did not fit the schema (400).
func (s *Store) Lookup(ctx context.Context, writeID string) (storage.Result, bool, error) {
	if writeID == "" {
		return storage.Result{}, false, nil
	}
	recs, err := s.lookupRecords(ctx, s.pool(), []string{writeID})
	if err != nil {
		return storage.Result{}, false, err
	}
	rec, ok := recs[writeID]
	if !ok {
		return storage.Result{}, false, nil
	}
	switch rec.failed {
	case failedNone:
		return rec.res, true, nil
	case failedInvalid:
		// Bare: the message is what a client is answered (400), without
		// the store's name and path.
		return rec.res, true, &dbapi.InvalidError{Msg: invalidRecorded(writeID, rec.res.Seq)}
	default:
		return rec.res, true, fmt.Errorf("%s: write %q (seq %d) was rejected: %w", s.name, writeID, rec.res.Seq, storage.ErrConstraint)
	}
}
