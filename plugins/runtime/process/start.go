package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Start runs the worker binary with spec.Args and the orchestrator's
// environment plus spec.Env, in a new process group, with stdout and stderr
// appended to spec.LogPath (default <StateDir>/logs/<id>.log). It returns
// once the process runs and its state file is written. An id that is
// already live (here, or in a state file of another Runtime) is refused.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Handle, error) {
	if err := validID(spec.ID); err != nil {
		return runtime.Handle{}, err
	}
	if err := ctx.Err(); err != nil {
		return runtime.Handle{}, fmt.Errorf("worker %s: start: %w", spec.ID, err)
	}
	r.startMu.Lock()
	defer r.startMu.Unlock()

	if _, err := r.lookup(spec.ID); err == nil {
		return runtime.Handle{}, fmt.Errorf("worker %s: already running", spec.ID)
	} else if !errors.Is(err, runtime.ErrNotFound) {
		return runtime.Handle{}, err
	}

	logPath := spec.LogPath
	if logPath == "" {
		logPath = filepath.Join(r.logDir, spec.ID+".log")
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return runtime.Handle{}, fmt.Errorf("worker %s: log dir: %w", spec.ID, err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return runtime.Handle{}, fmt.Errorf("worker %s: log file: %w", spec.ID, err)
	}
	defer logf.Close() // the child holds its own copy of the descriptor

	cmd := exec.Command(r.binary, spec.Args...)
	cmd.Env = mergeEnv(os.Environ(), spec.Env)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own process group: the terminal's SIGINT goes to the orchestrator's
	// group only, and kill(-pid) reaches the worker and all it spawns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return runtime.Handle{}, fmt.Errorf("worker %s: start %s: %w", spec.ID, r.binary, err)
	}
	pid := cmd.Process.Pid
	started := time.Now()
	var ticks uint64
	if ps, err := readProcStat(pid); err == nil {
		ticks = ps.ticks
	} // else it died already: cmd.Wait below reports it

	w := &worker{
		handle: runtime.Handle{ID: spec.ID, PID: pid, StartedAt: started},
		ticks:  ticks,
		child:  true,
		done:   make(chan struct{}),
	}
	st := stateFile{ID: spec.ID, PID: pid, StartedAt: started, StartTicks: ticks,
		Binary: r.binary, Args: spec.Args, LogPath: logPath}
	r.mu.Lock()
	err = r.writeState(st)
	if err == nil {
		r.workers[spec.ID] = w
	}
	r.mu.Unlock()
	if err != nil {
		// Untracked it would be an orphan after a restart: take it back.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return runtime.Handle{}, err
	}
	r.log.Info("worker started", "id", spec.ID, "pid", pid, "log", logPath)

	go func() {
		_ = cmd.Wait() // the exit status is in ProcessState either way
		r.exited(w, exitCode(cmd.ProcessState), time.Now())
	}()
	return w.handle, nil
}

// exitCode maps a wait status to a shell-style code: the exit status, or
// 128+signal for a worker a signal ended (137 after SIGKILL, like Docker).
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return waitStatusCode(ws)
	}
	return ps.ExitCode()
}

func waitStatusCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	default:
		return -1
	}
}

// mergeEnv returns base with extra's variables set (extra wins), in a
// deterministic order.
func mergeEnv(base []string, extra map[string]string) []string {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(base)+len(keys))
	for _, kv := range base {
		k := kv
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				k = kv[:i]
				break
			}
		}
		if _, over := extra[k]; !over {
			env = append(env, kv)
		}
	}
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}
