package api

import "time"

// Answer types of the admin API and the probes. The DB API's are in dbapi.

// WorkerInfo is one worker as GET /api/v1/workers shows it; the list is
// sorted by pid.
type WorkerInfo struct {
	ID         string    `json:"id"`
	PID        int       `json:"pid"`
	Role       string    `json:"role"`
	AppliedSeq uint64    `json:"applied_seq"`
	StartedAt  time.Time `json:"started_at"`
	// Ready: caught up with the log and serving (false while a new worker
	// copies the data).
	Ready    bool `json:"ready"`
	Draining bool `json:"draining,omitempty"`
	// StartedFrom is the snapshot the worker loaded when it started.
	StartedFrom string `json:"started_from,omitempty"`
	// CatchingUp is where a worker that does not serve yet stands.
	CatchingUp *CatchUp `json:"catching_up,omitempty"`
	// Lag is how many seqs the worker is behind the master's applied seq
	// (0 for the master, and when there is no master).
	Lag uint64 `json:"lag"`
}

// CatchUp is a catching-up worker's progress: loading a snapshot (bytes) or
// replaying the log (seqs up to the master's), at a rate, with the time left.
type CatchUp struct {
	Phase      string  `json:"phase"`
	Unit       string  `json:"unit"`
	Done       int64   `json:"done"`
	Total      int64   `json:"total"`
	Rate       float64 `json:"rate_per_sec"`
	ETASeconds float64 `json:"eta_seconds"`
}

// Readiness is the answer of GET /readyz (200 when Ready, else 503).
type Readiness struct {
	Ready bool `json:"ready"`
	// Master is the id of the ready master ("" when there is none).
	Master string `json:"master"`
	// ReadySlaves counts the slaves that are caught up and not draining.
	ReadySlaves int `json:"ready_slaves"`
	// Error names what is missing when not ready.
	Error string `json:"error,omitempty"`
}

// SwitchoverRequest is the body of POST /api/v1/switchover; an empty body
// or an empty To picks the lowest-pid ready slave.
type SwitchoverRequest struct {
	To string `json:"to,omitempty"`
}

// SwitchoverResult is the answer of a switchover: the master changed from
// From to To, whose epoch is Epoch.
type SwitchoverResult struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Epoch uint64 `json:"epoch"`
	// TookMS is how long the master took no writes, as the orchestrator saw
	// it: from the old master's hand-over to the new master's record.
	TookMS float64 `json:"took_ms"`
}

// Kinds of Event.
const (
	EventFailover   = "failover"   // the master died; Worker is the new master, DurationMS the gap
	EventSwitchover = "switchover" // a planned change of master; DurationMS the stall
	EventReplaced   = "replaced"   // a dead worker was replaced; Worker is the new one
	EventCrash      = "crash"      // an operator crashed a worker (admin API)
	EventScale      = "scale"      // the scaler decided; Reads is the count behind it
	// EventSupervision: this orchestrator took or lost the supervision
	// lock; Detail says which.
	EventSupervision = "supervision"
)

// Event is one entry of the orchestrator's timeline (GET /api/v1/events).
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Worker string    `json:"worker,omitempty"`
	PID    int       `json:"pid,omitempty"`
	Epoch  uint64    `json:"epoch,omitempty"`
	// DurationMS: for a failover, from the master's loss to the new
	// master's record; for a switchover, the stall.
	DurationMS float64 `json:"duration_ms,omitempty"`
	// Reads and Slaves: for a scale decision, the reads counted in the
	// interval and the slaves decided.
	Reads  int64  `json:"reads,omitempty"`
	Slaves int    `json:"slaves,omitempty"`
	Detail string `json:"detail"`
}

// Status is GET /api/v1/status: the workers with their lag, the master's
// epoch and the last failover (rideshare status shows it).
type Status struct {
	Epoch        uint64       `json:"epoch"`
	Master       string       `json:"master"`
	MasterSeq    uint64       `json:"master_seq"`
	Workers      []WorkerInfo `json:"workers"`
	LastFailover *Event       `json:"last_failover,omitempty"`
	// Orchestrator is the answering orchestrator's role among those
	// sharing the stack.
	Orchestrator *OrchestratorRole `json:"orchestrator,omitempty"`
}

// Roles of an orchestrator.
const (
	RoleSupervising = "supervising" // holds the supervision lock: starts, replaces, drains
	RoleStandby     = "standby"     // serves every API, takes over when the supervisor dies
)

// OrchestratorRole is which orchestrator answered, its role, and which one
// supervises ("" when none holds the lock, or it could not be read).
type OrchestratorRole struct {
	ID         string `json:"id"`
	Role       string `json:"role"`
	Supervisor string `json:"supervisor"`
}
