// Package storage is the contract of a worker's database backend. Each worker
// owns one Storage; nothing is shared between workers. Implementations:
// plugins/storage/sqlite (embedded default) and plugins/storage/postgres.
package storage

import (
	"context"
	"errors"
	"io"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/replog"
)

// WriteIDWindow is how many seqs of write-id records a replica keeps: Apply
// forgets the record of a write once its seq is WriteIDWindow or more below
// the newest, so the records (and every snapshot) stay bounded. A write is
// redelivered only while its writeQ message is unacknowledged, which is far
// fewer seqs than this.
const WriteIDWindow = 20000

// ErrConstraint is returned (wrapped) when a write violates a primary key or
// another constraint; the DB API answers it with 409.
var ErrConstraint = errors.New("constraint violation")

// State is where a replica stands in the replication log. It is stored in the
// same transaction as the data it describes, so it can never disagree with it.
type State struct {
	// Seq is the last applied write seq (0: none).
	Seq uint64 `json:"seq"`
	// Epoch is the highest master epoch seen in the log.
	Epoch uint64 `json:"epoch"`
	// Offset is the syncQ stream offset of the last entry read (-1: none).
	Offset int64 `json:"offset"`
	// NextID is the next id the master generates for an AutoID column.
	NextID int64 `json:"next_id"`
}

// Result is what applying one write did.
type Result struct {
	Seq          uint64 `json:"seq"`
	RowsAffected int64  `json:"rows_affected"`
	// ID is the generated id of an insert into a table with an AutoID (0: none).
	ID int64 `json:"id,omitempty"`
}

// Batch is what one Apply commits: a run of write entries read from (or,
// on the master, about to be appended to) the replication log, and where the
// replica stands in the log after them.
type Batch struct {
	// Writes are EntryWrite entries in log order, with increasing Seq.
	Writes []replog.Entry `json:"writes,omitempty"`
	// Epoch is the highest master epoch read in the log up to Offset.
	Epoch uint64 `json:"epoch"`
	// Offset is the syncQ stream offset of the last entry read; the master,
	// which applies before it publishes, passes the offset of its own epoch
	// entry.
	Offset int64 `json:"offset"`
}

// Outcome is what applying one write of a batch did.
type Outcome struct {
	Result
	// Conflict: the write violated a primary-key or unique constraint; its
	// change was rolled back (the DB API answers 409).
	Conflict bool `json:"conflict,omitempty"`
	// Invalid: the write does not fit the schema and changed nothing (400);
	// the text says why, naming the field.
	Invalid string `json:"invalid,omitempty"`
	// Redelivered: the write id had been applied before; this is its
	// recorded outcome and nothing was applied again.
	Redelivered bool `json:"redelivered,omitempty"`
}

// Storage is one replica's database.
type Storage interface {
	// State returns the replica's position in the log.
	State(ctx context.Context) (State, error)

	// Apply applies a batch in ONE transaction: every write of b.Writes in
	// order, the record of each write id, and the new State (Seq = the last
	// write's Seq, or unchanged when there is none; Epoch = max(Epoch,
	// b.Epoch); Offset = b.Offset; NextID advanced past every id the writes
	// carry). It returns one Outcome per write, in order. A batch without
	// writes only moves Epoch and Offset (epoch entries, marks, skipped
	// entries) and is safe to repeat.
	//
	// Each write takes its seq whatever happens to it, so the log stays
	// gap-free and every replica — and the master, which applies before it
	// publishes — treats the entry alike:
	//   - a write id already recorded (a redelivery, even earlier in the same
	//     batch) is not applied again: its recorded outcome is returned with
	//     Redelivered set;
	//   - a primary-key/unique violation rolls back that write's change only
	//     and is recorded as failed: Outcome.Conflict;
	//   - a write that is not valid against the schema (wrong type, NUL in a
	//     text, unknown column) changes nothing and is recorded as failed:
	//     Outcome.Invalid says why.
	// An error means nothing of the batch was committed.
	Apply(ctx context.Context, b Batch) ([]Outcome, error)

	// Lookup returns the recorded result of an applied write id: a redelivered
	// write is answered from it instead of being applied twice.
	Lookup(ctx context.Context, writeID string) (Result, bool, error)

	// Read runs a validated read.
	Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error)

	// Hash is a digest of the whole content (all tables, in key order) and
	// nothing else: two replicas with equal data have equal hashes.
	Hash(ctx context.Context) (string, error)

	// Export writes a consistent copy of the whole database — every table,
	// the write-id records still kept (WriteIDWindow) and the State — to w in
	// the snapshot format (package snapshot), and returns the State it covers.
	// It reads inside one read-only transaction, so writes (Apply) go on while
	// it runs and none of them is half in the copy.
	Export(ctx context.Context, w io.Writer) (State, error)

	// Import replaces the whole content (tables, write-id records, State)
	// with the snapshot read from r, in ONE transaction, and returns the
	// snapshot's State. Any error — a malformed, truncated or corrupted
	// stream, or an error r returns, even at its very end — leaves the
	// database exactly as it was: a caller that verifies a checksum while
	// streaming fails the read to refuse the snapshot.
	Import(ctx context.Context, r io.Reader) (State, error)

	// Close releases the database, keeping its data.
	Close() error

	// Destroy closes and deletes the database for good.
	Destroy(ctx context.Context) error
}

// Config opens one worker's database.
type Config struct {
	// WorkerID names the database (one per worker).
	WorkerID string `json:"worker_id"`
	// DataDir is where file-based backends keep their files.
	DataDir string `json:"data_dir"`
	// Options are the backend's own settings from HCL.
	Options map[string]string `json:"options"`
}

// Opener opens (creating when missing) a worker's database.
type Opener func(ctx context.Context, cfg Config) (Storage, error)
