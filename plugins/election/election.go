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
}

// Leader is the current master and its epoch.
type Leader struct {
	ID    string `json:"id"`
	PID   int    `json:"pid"`
	Epoch uint64 `json:"epoch"`
}

// Election is one session with the election backend.
type Election interface {
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
	// it after publishing, and stops if it has changed.
	Epoch(ctx context.Context) (uint64, error)
	// Done is closed when the session is lost: a master must stop acting.
	Done() <-chan struct{}

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

	Close() error
}

// Config is the election backend's settings.
type Config struct {
	Servers        []string          `json:"servers"`
	Root           string            `json:"root"`
	SessionTimeout time.Duration     `json:"session_timeout"`
	Options        map[string]string `json:"options"`
}
