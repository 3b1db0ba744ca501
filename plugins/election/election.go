// Package election is the contract of membership and master election.
// Implementation: plugins/election/zookeeper.
//
// Every worker joins as a Member. When there is no master, the live member
// with the lowest pid wins; each win increases the epoch, the fencing token
// that replicas use to reject a deposed master's writes.
package election

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrSessionLost is returned (wrapped) by every call once the session is
// over — expired, closed, cut off for longer than the session timeout, or
// ended with a plugin process that died: the member must stop acting.
var ErrSessionLost = errors.New("election session lost")

// ErrNotLeader is returned (wrapped) when the caller lost or never had the lead.
var ErrNotLeader = errors.New("not the leader")

// Roles a member reports.
const (
	RoleMaster = "master"
	RoleSlave  = "slave"
)

// Member is one worker as recorded in the election backend.
type Member struct {
	ID         string    `json:"id"`
	PID        int       `json:"pid"`
	Role       string    `json:"role"`
	AppliedSeq uint64    `json:"applied_seq"`
	StartedAt  time.Time `json:"started_at"`
	// Ready: the member has caught up with the replication log and serves.
	Ready bool `json:"ready,omitempty"`
	// Draining members take no new reads and never campaign.
	Draining bool `json:"draining,omitempty"`
	// LogEpoch is the highest epoch the member has read in the replication
	// log. A win takes an epoch above it too, so a master's epoch is always
	// newer than every entry already in the log, even when the election's
	// own counter is younger than the log (a fresh root on an old broker).
	LogEpoch uint64 `json:"log_epoch,omitempty"`
	// StartedFrom is the snapshot the member loaded when it started (empty:
	// it replayed the log, or resumed from its own database).
	StartedFrom string `json:"started_from,omitempty"`
	// Progress is where a member that does not serve yet stands in its
	// catch-up; nil once it serves.
	Progress *Progress `json:"progress,omitempty"`
}

// Phases of a member's catch-up.
const (
	PhaseLoadingSnapshot = "loading_snapshot"
	PhaseReplaying       = "replaying"
)

// Progress is a catch-up's position: Done of Total units (snapshot bytes
// while loading, seqs while replaying), at Rate units per second.
type Progress struct {
	Phase string  `json:"phase"`
	Unit  string  `json:"unit"`
	Done  int64   `json:"done"`
	Total int64   `json:"total"`
	Rate  float64 `json:"rate"`
}

// ETA is the time left at the current rate (0 when unknown or done).
func (p Progress) ETA() time.Duration {
	if p.Rate <= 0 || p.Total <= p.Done {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
}

// Leader is the current master and its epoch.
type Leader struct {
	ID    string `json:"id"`
	PID   int    `json:"pid"`
	Epoch uint64 `json:"epoch"`
}

// Election is one session with the election backend. A backend implements
// all of it; each side uses its own part: a worker is a Candidate, the
// orchestrator an Observer, and both (and the backup tools) use the
// snapshot Catalog; orchestrators contend for Supervision.
type Election interface {
	Candidate
	Observer
	Catalog
	Supervision
	// Done is closed when the session is lost: a master must stop acting,
	// and every side opens a new session.
	Done() <-chan struct{}
	Close() error
}

// Candidate is a worker's part of a session: it joins, keeps its record
// current and campaigns.
type Candidate interface {
	// Join registers the member (ephemeral: it vanishes with the session).
	Join(ctx context.Context, m Member) error
	// Update rewrites the member's record (role, applied seq, draining).
	Update(ctx context.Context, m Member) error
	// Campaign blocks until this member is the leader and returns its epoch,
	// which is above both the last epoch and the member's LogEpoch.
	// It wins only while no leader exists and it has the lowest pid among
	// live, non-draining members.
	Campaign(ctx context.Context) (uint64, error)
	// Epoch reads the current epoch fresh from the backend: a master checks
	// it after publishing, and stops if it has changed. A backend whose
	// connection drops while the session lives waits for the next one (up to
	// the session timeout) and reads then: it never answers from a cache,
	// and fails only when it cannot read.
	Epoch(ctx context.Context) (uint64, error)
	// Handover gives up this member's lead to the live, non-draining
	// member to (a planned switchover): in one step the lead ends, this
	// member's record says slave, and until to claims the lead (or dies, or
	// HandoverTimeout passes) only to can win a campaign. The epoch is not
	// changed here: to's win moves it on, and fences the log as every win
	// does. It fails with ErrNotLeader when this member does not lead, and
	// with ErrNoMember when to is not a live, non-draining member.
	Handover(ctx context.Context, to string) error
}

// ErrNoMember is returned (wrapped) by Handover when its target is not a
// live, non-draining member.
var ErrNoMember = errors.New("no such live member")

// HandoverTimeout is how long a handover reserves the lead for its target:
// a target that has not claimed it by then (stuck, or cut off) no longer
// blocks the others.
const HandoverTimeout = 10 * time.Second

// Observer is the orchestrator's part of a session: it watches the members
// and removes dead ones.
type Observer interface {
	// Members lists every live member.
	Members(ctx context.Context) ([]Member, error)
	// Leader returns the current leader, ok=false when there is none.
	Leader(ctx context.Context) (Leader, bool, error)
	// Watch sends on the channel whenever membership or leadership changes,
	// until ctx is done.
	Watch(ctx context.Context) (<-chan struct{}, error)
	// Remove deletes a dead member's record (and its leadership) at once,
	// instead of waiting for its session to expire.
	Remove(ctx context.Context, id string) error
}

// Supervision is the orchestrators' part of a session: several
// orchestrators serve the APIs at once, and the one holding the
// supervision lock is the only one that starts, replaces, drains and
// removes workers. The lock belongs to the session, not to the id: it is
// released when the session ends (Done is closed, Close), so an
// orchestrator that dies loses it within the session timeout, and one that
// stops loses it at once.
type Supervision interface {
	// Supervise blocks until this session holds the supervision lock and
	// returns nil; it returns at once when the session already holds it.
	// Contenders are served first come, first served. It returns ctx's
	// error when ctx ends first (the session then leaves the queue), and a
	// wrapped ErrSessionLost when the session is lost. Holding ends only
	// with the session: watch Done.
	//
	// id names the orchestrator to Supervisor. Two sessions with the same id
	// are allowed and harmless to the lock (each waits in line on its own
	// and only one holds), but Supervisor cannot tell them apart: give each
	// orchestrator its own id.
	Supervise(ctx context.Context, id string) error
	// Supervisor returns the id of the session holding the lock now,
	// ok=false when none does.
	Supervisor(ctx context.Context) (id string, ok bool, err error)
}

// Catalog is the snapshot catalog the backend keeps beside the membership.
// It works without Join: operators' tools read it too.
type Catalog interface {
	// Snapshots lists the snapshot catalog, newest first (by ID).
	Snapshots(ctx context.Context) ([]SnapshotRecord, error)
	// PutSnapshot creates the record r.ID or replaces it. Records are
	// persistent: they outlive the session that wrote them.
	PutSnapshot(ctx context.Context, r SnapshotRecord) error
	// DeleteSnapshot removes the record id; removing one that is not there
	// is not an error.
	DeleteSnapshot(ctx context.Context, id string) error
}

// States of a SnapshotRecord.
const (
	// SnapshotRequested: an operator asked for a snapshot now (rideshare
	// backup); the snapshotting slave takes one and deletes the request.
	SnapshotRequested = "requested"
	// SnapshotWriting: chunks are being written; never loaded. A record left
	// in this state by a worker that died is removed with its queue.
	SnapshotWriting = "writing"
	// SnapshotComplete: every chunk is stored and the checksum recorded.
	SnapshotComplete = "complete"
)

// NewSnapshotID is a catalog id that sorts by creation time; by names the
// worker or tool that creates the record.
func NewSnapshotID(by string) string {
	return fmt.Sprintf("%020d-%s", time.Now().UnixNano(), by)
}

// SnapshotRecord is one snapshot in the catalog the election backend keeps
// beside the membership: where its chunks are (a RabbitMQ stream queue) and
// what it covers. A snapshot is loaded only when State is SnapshotComplete
// and its bytes match SHA256.
type SnapshotRecord struct {
	// ID names the record; IDs sort by creation time (newest last).
	ID    string `json:"id"`
	State string `json:"state"`
	// Queue is the stream queue holding the chunks.
	Queue string `json:"queue,omitempty"`
	// Seq, Epoch and Offset are where the snapshot stands in the log: a
	// replica loaded from it follows syncQ from Offset+1.
	Seq    uint64 `json:"seq"`
	Epoch  uint64 `json:"epoch"`
	Offset int64  `json:"offset"`
	// Chunks, Bytes and SHA256 describe the stored bytes (hex SHA-256 of
	// all chunks in order).
	Chunks int    `json:"chunks,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// TakenBy is the worker (or tool) that wrote it.
	TakenBy     string    `json:"taken_by,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at,omitempty"`
}

// Config is the election backend's settings.
type Config struct {
	Servers        []string          `json:"servers"`
	Root           string            `json:"root"`
	SessionTimeout time.Duration     `json:"session_timeout"`
	Options        map[string]string `json:"options"`
}
