// Package runtime is the contract of a worker runtime: how the orchestrator
// starts, stops and watches worker processes. Implementations:
// plugins/runtime/process (raw processes) and plugins/runtime/docker.
package runtime

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) for an unknown worker id.
var ErrNotFound = errors.New("worker not found")

// Spec describes one worker to start. The runtime runs the rideshare binary
// (or image) with Args and Env; it does not interpret them.
type Spec struct {
	ID   string            `json:"id"`
	Args []string          `json:"args"`
	Env  map[string]string `json:"env"`
	// LogPath is the file the worker's stdout/stderr are appended to: as
	// they are written (process), or copied from the container's log before
	// it is removed (docker), so a crashed worker's log is kept.
	LogPath string `json:"log_path"`
}

// Handle is a running worker as the runtime sees it. PID is the host process
// id (the container's State.Pid for docker).
type Handle struct {
	ID        string    `json:"id"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
}

// Exit reports that a worker's process ended.
type Exit struct {
	ID       string    `json:"id"`
	PID      int       `json:"pid"`
	ExitCode int       `json:"exit_code"`
	At       time.Time `json:"at"`
}

// Runtime starts and watches workers.
type Runtime interface {
	// Start launches a worker and returns once it has a pid.
	Start(ctx context.Context, spec Spec) (Handle, error)
	// Stop asks the worker to exit (SIGTERM), then kills it after timeout.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Kill ends the worker at once (SIGKILL): the crash API uses it.
	Kill(ctx context.Context, id string) error
	// List returns every live worker this runtime knows of, including ones
	// started by an earlier orchestrator, so a restarted one can adopt them.
	List(ctx context.Context) ([]Handle, error)
	// Exits delivers an Exit for every worker that ends, started or adopted,
	// until ctx is done.
	Exits(ctx context.Context) (<-chan Exit, error)
}

// Config is a runtime's settings: the rideshare binary to run and the
// backend's own options from HCL.
type Config struct {
	Binary   string            `json:"binary"`
	StateDir string            `json:"state_dir"`
	Options  map[string]string `json:"options"`
}

// Options every runtime receives: the deployment sets them from its
// top-level data_dir and stack (internal/wiring.RuntimeConfig) unless the
// runtime block's config sets them itself. A runtime accepts them whether
// or not it uses them.
const (
	// OptionDataDir is the deployment's data directory (absolute).
	OptionDataDir = "data_dir"
	// OptionStack names the deployment's stack (docker: the
	// rideshare.stack label).
	OptionStack = "stack"
)
