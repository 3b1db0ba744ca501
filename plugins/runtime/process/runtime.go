// Package process is the raw-process worker runtime (like Nomad's raw_exec):
// every worker is a child process of the rideshare binary, in its own
// process group, recorded in a state file so that a restarted orchestrator
// adopts the workers an earlier one started.
//
// Invariants:
//   - Each worker runs in its own process group (pgid == pid), so a Ctrl-C
//     in the orchestrator's terminal never reaches a worker directly, and
//     Stop/Kill signal the whole group.
//   - A live worker has exactly one state file <StateDir>/workers/<id>.json
//     holding its pid and its kernel start time (/proc/<pid>/stat field 22);
//     the file is removed when the worker's exit is observed. A file whose
//     pid is dead, a zombie, or carries another start time (pid reuse) is
//     stale: it is removed and never reported as live.
//   - Every worker this Runtime started or adopted produces exactly one Exit
//     on this Runtime's queue; exits are queued (unbounded) until Exits is
//     called, so a waiter never blocks.
//   - Workers outlive the Runtime: when New's ctx ends the Runtime stops
//     watching, but it neither signals nor waits for its workers; the
//     orchestrator stops them explicitly on shutdown.
package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// OptionKeys are the keys of runtime.Config.Options that the process runtime
// accepts: only the two every runtime receives from the deployment
// (runtime.OptionDataDir, runtime.OptionStack), which it does not use. Any
// other is refused (ValidateOptions).
var OptionKeys = []string{runtime.OptionDataDir, runtime.OptionStack}

// ValidateOptions refuses every option the process runtime does not accept
// (see OptionKeys), naming the key; New calls it first.
func ValidateOptions(opts map[string]string) error {
	return plugins.CheckOptions("runtime", "process", opts, OptionKeys)
}

// Runtime runs workers as raw processes. It implements runtime.Runtime.
type Runtime struct {
	binary  string
	dir     string // <StateDir>/workers: one state file per live worker
	logDir  string // default log directory when a Spec has no LogPath
	log     hclog.Logger
	ctx     context.Context
	cancelR *os.File // read end of a pipe closed when ctx ends: wakes pidfd waiters

	startMu sync.Mutex // serialises Start so an id is checked and claimed atomically

	mu      sync.Mutex // guards workers and the state files' create/remove
	workers map[string]*worker

	exits *runtime.ExitQueue
}

var _ runtime.Runtime = (*Runtime)(nil)

// worker is one live worker this Runtime watches (a child it started, or an
// adopted process started by an earlier Runtime).
type worker struct {
	handle runtime.Handle
	ticks  uint64        // kernel start time of pid, the pid-reuse guard
	child  bool          // started by this Runtime: exit seen by cmd.Wait
	done   chan struct{} // closed once the exit has been observed and queued
}

// New returns a process runtime. cfg.Binary is the program workers run
// (default: this executable); cfg.StateDir holds the worker state files
// (default: <tmp>/rideshare-process-runtime). Live workers recorded there by
// an earlier Runtime are adopted at once, so their exits are delivered too.
// An option other than OptionKeys is an error. The Runtime stops watching
// when ctx ends.
func New(ctx context.Context, cfg runtime.Config, log hclog.Logger) (*Runtime, error) {
	if err := ValidateOptions(cfg.Options); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("runtime.process")
	binary := cfg.Binary
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("process runtime: no binary configured and cannot find own executable: %w", err)
		}
		binary = exe
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("process runtime: worker binary: %w", err)
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(os.TempDir(), "rideshare-process-runtime")
		log.Warn("no state_dir configured, using a temporary one", "state_dir", stateDir)
	}
	r := &Runtime{
		binary:  binary,
		dir:     filepath.Join(stateDir, "workers"),
		logDir:  filepath.Join(stateDir, "logs"),
		log:     log,
		ctx:     ctx,
		workers: make(map[string]*worker),
		exits:   runtime.NewExitQueue(),
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("process runtime: state dir: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("process runtime: cancel pipe: %w", err)
	}
	r.cancelR = pr
	go func() {
		<-ctx.Done()
		pw.Close() // every pidfd waiter polls pr: POLLHUP wakes them all
	}()
	handles, err := r.scan()
	if err != nil {
		return nil, err
	}
	if len(handles) > 0 {
		log.Info("adopted running workers", "count", len(handles))
	}
	return r, nil
}

// lookup returns the live worker id, adopting it from its state file if an
// earlier Runtime started it; the error wraps runtime.ErrNotFound.
func (r *Runtime) lookup(id string) (*worker, error) {
	r.mu.Lock()
	w, ok := r.workers[id]
	r.mu.Unlock()
	if !ok {
		if _, err := r.scan(); err != nil {
			return nil, err
		}
		r.mu.Lock()
		w, ok = r.workers[id]
		r.mu.Unlock()
	}
	if !ok || w.exited() {
		return nil, fmt.Errorf("worker %s: %w", id, runtime.ErrNotFound)
	}
	return w, nil
}

func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// exited records that w ended: its state file is removed and it leaves the
// table (under r.mu, so a concurrent scan never mistakes it for a stale file
// of someone else), then its Exit is queued and w.done closed.
func (r *Runtime) exited(w *worker, code int, at time.Time) {
	r.mu.Lock()
	r.removeState(w.handle.ID, w.handle.PID, w.ticks)
	if r.workers[w.handle.ID] == w {
		delete(r.workers, w.handle.ID)
	}
	r.mu.Unlock()
	r.log.Info("worker exited", "id", w.handle.ID, "pid", w.handle.PID, "exit_code", code, "adopted", !w.child)
	r.exits.Push(runtime.Exit{ID: w.handle.ID, PID: w.handle.PID, ExitCode: code, At: at})
	close(w.done)
}

// validID rejects ids that cannot name a state file.
func validID(id string) error {
	switch {
	case id == "" || id == "." || id == "..":
		return fmt.Errorf("invalid worker id %q", id)
	case len(id) > 200:
		return fmt.Errorf("worker id %q too long", id)
	}
	for _, c := range id {
		if c == '/' || c == 0 || c == '\\' {
			return fmt.Errorf("invalid worker id %q: contains %q", id, c)
		}
	}
	return nil
}
