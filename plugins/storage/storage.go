// Package storage is the contract of a worker's database backend. Each worker
// owns one Storage; nothing is shared between workers. Implementations:
// plugins/storage/sqlite (embedded default) and plugins/storage/postgres.
package storage

import (
	"context"
	"errors"

	"github.com/rideshare/dbaas/dbapi"
)

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

// Storage is one replica's database.
type Storage interface {
	// State returns the replica's position in the log.
	State(ctx context.Context) (State, error)

	// Apply applies one write entry in one transaction together with the new
	// State (Seq = e.Seq, Offset = offset, NextID advanced past any id the
	// entry carries) and a record of e.WriteID for Lookup. A constraint error
	// still advances the State and records the write as failed, so every
	// replica — and the master, which applies before it publishes — treats
	// the entry alike. A write id already recorded is not applied again: its
	// record is returned and the State still advances.
	Apply(ctx context.Context, e dbapi.Entry, offset int64) (Result, error)

	// Advance records that the log was read up to offset at epoch without a
	// write being applied (epoch entries, marks, skipped entries).
	Advance(ctx context.Context, epoch uint64, offset int64) error

	// Lookup returns the recorded result of an applied write id: a redelivered
	// write is answered from it instead of being applied twice.
	Lookup(ctx context.Context, writeID string) (Result, bool, error)

	// Read runs a validated read.
	Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error)

	// Hash is a digest of the whole content (all tables, in key order) and
	// nothing else: two replicas with equal data have equal hashes.
	Hash(ctx context.Context) (string, error)

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
