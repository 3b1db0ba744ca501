package sqlstore

// The record of applied write ids (WritesTable): what a redelivered write is
// answered with instead of being applied twice.

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Values of the writes table's `failed` column.
const (
	failedNone     = 0 // applied
	failedConflict = 1 // primary-key/unique violation, rolled back (409)
	failedInvalid  = 2 // not valid against the schema, changed nothing (400)
)

// Chunks that keep a statement far below the bind-variable limits of both
// backends (SQLite 32766, PostgreSQL 65535) and its text reasonably short.
const (
	lookupChunk = 500 // write ids per SELECT … IN
	recordChunk = 200 // rows per multi-row INSERT (5 values each)
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
func (s *Store) lookupRecords(ctx context.Context, db bun.IConn, ids []string) (map[string]writeRecord, error) {
	recs := make(map[string]writeRecord, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), lookupChunk)]
		ids = ids[len(chunk):]
		if err := s.scanRecords(ctx, db, recs, chunk); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func (s *Store) scanRecords(ctx context.Context, db bun.IConn, into map[string]writeRecord, ids []string) error {
	rows, err := db.QueryContext(ctx,
		"SELECT write_id, seq, rows_affected, id, failed FROM ? WHERE write_id IN (?)",
		bun.Ident(WritesTable), bun.In(ids))
	if err != nil {
		return fmt.Errorf("%s: read table %q (%d write ids from %q): %w", s.name, WritesTable, len(ids), ids[0], err)
	}
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

// insertRecords adds new records, a few hundred per statement.
func (s *Store) insertRecords(ctx context.Context, db bun.IConn, recs []writeRecord) error {
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), recordChunk)]
		recs = recs[len(chunk):]
		var q strings.Builder
		args := make([]any, 0, 1+5*len(chunk))
		args = append(args, bun.Ident(WritesTable))
		q.WriteString("INSERT INTO ? (write_id, seq, rows_affected, id, failed) VALUES ")
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, r.writeID, int64(r.res.Seq), r.res.RowsAffected, r.res.ID, r.failed)
		}
		if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
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
	recs, err := s.lookupRecords(ctx, s.db, []string{writeID})
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
