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
