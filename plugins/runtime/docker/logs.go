package docker

// A worker's log file: its container's output, copied out before removal.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// LabelLogPath carries Spec.LogPath on the container, so whichever Runtime
// removes it (the one that started it, or one of a restarted orchestrator
// that adopted it) knows where its log goes.
const LabelLogPath = "rideshare.log_path"

// saveLog appends the whole output (stdout and stderr, in order) of
// container cid to the file its LabelLogPath names, creating the file and
// its directory when missing. It runs before every removal: the engine
// keeps a container's log, whatever ended it (kill -9 included), until the
// container is removed, so nothing the worker wrote is lost. Copying it out
// (rather than having the worker write into a bind-mounted file) works on
// any engine and network, and when the orchestrator itself runs in a
// container: the path is the orchestrator's, the engine's file system is
// never involved; and it also holds what the Go runtime prints as it dies
// (a panic, a fatal error), which goes to stderr only.
func (r *Runtime) saveLog(ctx context.Context, cid string) error {
	c, err := r.cli.ContainerInspect(ctx, cid)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if c.Config == nil || c.Config.Labels[LabelLogPath] == "" {
		return nil
	}
	path := c.Config.Labels[LabelLogPath]
	rc, err := r.cli.ContainerLogs(ctx, cid, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("read the container's log for %s: %w", path, err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("log directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log %s: %w", path, err)
	}
	_, err = stdcopy.StdCopy(f, f, rc) // no TTY: the log is multiplexed
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy the container's log to %s: %w", path, err)
	}
	return nil
}
