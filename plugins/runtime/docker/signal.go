package docker

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Stop asks the engine to stop the worker's container: SIGTERM, then
// SIGKILL after timeout (rounded up to whole seconds). It returns once the
// container has stopped; its Exit follows from the "die" event, except once
// the Runtime's ctx has ended: then Stop removes the container itself.
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	c, err := r.running(ctx, id)
	if err != nil {
		return err
	}
	secs := int(math.Ceil(timeout.Seconds()))
	r.log.Info("stopping worker", "id", id, "pid", c.State.Pid, "timeout", timeout)
	err = r.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs})
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("worker %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("worker %s: stop: %w", id, err)
	}
	if r.ctx.Err() != nil {
		// The Runtime is shutting down (an orchestrator stopping its workers
		// on exit): nothing watches for the "die" event any more, so remove
		// the container here. Left behind, it would keep its network and
		// volume in use (docker-compose down could not remove them).
		r.remove(c.ID)
	}
	return nil
}

// Kill sends SIGKILL to the worker's container and returns at once; the
// Exit follows from the "die" event.
func (r *Runtime) Kill(ctx context.Context, id string) error {
	c, err := r.running(ctx, id)
	if err != nil {
		return err
	}
	err = r.cli.ContainerKill(ctx, c.ID, "SIGKILL")
	switch {
	case errdefs.IsNotFound(err), errdefs.IsConflict(err): // gone, or no longer running
		return fmt.Errorf("worker %s: %w: %w", id, err, runtime.ErrNotFound)
	case err != nil:
		return fmt.Errorf("worker %s: kill: %w", id, err)
	}
	r.log.Info("killed worker", "id", id, "pid", c.State.Pid)
	return nil
}
