// Package replog is the format of the replication log (syncQ): the entries
// a master appends, every replica reads in order, and the storage contract
// applies (plugins/storage). The HTTP API's types are in dbapi.
package replog

import "github.com/rideshare/dbaas/dbapi"

// Kinds of replication-log entries on syncQ.
const (
	// EntryWrite carries one applied write; replicas apply it at Seq.
	EntryWrite = "write"
	// EntryEpoch opens a new master's epoch. Every replica that reads it
	// rejects all later entries of older epochs: this is the fence that keeps a
	// deposed master's late writes out (invariant 3).
	EntryEpoch = "epoch"
	// EntryMark is a no-op a worker publishes to learn where the log ends:
	// once it reads its own mark back it has seen everything published before.
	EntryMark = "mark"
)

// Entry is one message on syncQ, the replication log. The rule every replica
// applies, in log order, is the same and deterministic:
//   - an epoch entry raises the replica's epoch to Epoch (never lowers it);
//   - a write entry is applied iff Epoch equals the replica's epoch and Seq is
//     exactly its applied seq + 1; anything else is skipped.
//
// Because every replica reads the same log in the same order, all of them skip
// and apply exactly the same entries and converge (invariant 2).
type Entry struct {
	Kind    string              `json:"kind"`
	Seq     uint64              `json:"seq,omitempty"`
	Epoch   uint64              `json:"epoch"`
	WriteID string              `json:"write_id,omitempty"`
	Write   *dbapi.WriteRequest `json:"write,omitempty"`
	Nonce   string              `json:"nonce,omitempty"`
}
