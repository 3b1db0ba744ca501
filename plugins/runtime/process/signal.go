package process

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Stop sends SIGTERM to the worker's process group, waits up to timeout for
// it to exit, then sends SIGKILL. It returns once the exit has been observed
// (and queued as an Exit), or with ctx's error.
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	w, err := r.lookup(id)
	if err != nil {
		return err
	}
	if err := signalGroup(w, syscall.SIGTERM); err != nil {
		return fmt.Errorf("worker %s: stop: %w", id, err)
	}
	r.log.Info("stopping worker", "id", id, "pid", w.handle.PID, "timeout", timeout)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker %s: stop: %w", id, ctx.Err())
	case <-t.C:
	}
	r.log.Warn("worker ignored SIGTERM, killing it", "id", id, "pid", w.handle.PID, "timeout", timeout)
	if err := signalGroup(w, syscall.SIGKILL); err != nil {
		return fmt.Errorf("worker %s: stop: %w", id, err)
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("worker %s: stop: waiting after SIGKILL: %w", id, ctx.Err())
	}
}

// Kill sends SIGKILL to the worker's process group and returns at once; the
// Exit follows on the Exits channel.
func (r *Runtime) Kill(ctx context.Context, id string) error {
	w, err := r.lookup(id)
	if err != nil {
		return err
	}
	if err := signalGroup(w, syscall.SIGKILL); err != nil {
		return fmt.Errorf("worker %s: kill: %w", id, err)
	}
	r.log.Info("killed worker", "id", id, "pid", w.handle.PID)
	return nil
}

// signalGroup signals the worker's process group (pgid == pid). A group
// already gone is not an error: the exit is being reported.
func signalGroup(w *worker, sig syscall.Signal) error {
	err := syscall.Kill(-w.handle.PID, sig)
	if errors.Is(err, syscall.ESRCH) {
		// Leader alone, or group already empty: try the pid itself.
		err = syscall.Kill(w.handle.PID, sig)
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
	}
	return err
}
