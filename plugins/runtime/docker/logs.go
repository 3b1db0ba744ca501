package docker

// A worker's log file: its container's output, copied out before removal.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// LabelLogPath carries Spec.LogPath on the container, so whichever Runtime
// sees it exit (the one that started it, or one of a restarted orchestrator
// that adopted it) knows where its log goes.
const LabelLogPath = "rideshare.log_path"

// createLog makes the log file (and its directory) at Start, as the process
// runtime does: a path that cannot be written fails the Start, not the
// crash much later. saveLog only appends to it, never creates it, so a
// file an operator (or a test) removed meanwhile stays removed.
func createLog(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	return f.Close()
}

// logHeader opens the output of container cid in a log file; finding it
// there means the output was copied already (by another Runtime of the
// stack, or a replayed event).
func logHeader(cid string) []byte {
	return []byte("--- rideshare: the output of container " + cid + ", copied once it exited ---\n")
}

// saveLog appends the whole output (stdout and stderr, in order) of
// container cid to path, under a header naming the container, once. It runs
// once the exit was seen and queued, before the container is removed: the
// engine keeps a container's log, whatever ended it (kill -9 included),
// until the container is removed, so nothing the worker wrote is lost; the
// log is complete at path once the container is gone. Copying it out
// (rather than having the worker write into a bind-mounted file) works on
// any engine and network and when the orchestrator itself runs in a
// container (the path is the orchestrator's; the engine's file system is
// never involved), and it holds what the Go runtime prints as it dies (a
// panic, a fatal error), which goes to stderr only.
func (r *Runtime) saveLog(ctx context.Context, cid, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open log %s: %w", path, err)
	}
	defer f.Close()
	// Two Runtimes of a stack may both see the exit: one copies, under
	// an exclusive lock, and the other finds its header.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock log %s: %w", path, err)
	}
	header := logHeader(cid)
	if done, err := contains(f, header); err != nil || done {
		return err
	}
	rc, err := r.cli.ContainerLogs(ctx, cid, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("read the container's log for %s: %w", path, err)
	}
	defer rc.Close()
	if _, err := f.Write(header); err != nil {
		return fmt.Errorf("write log %s: %w", path, err)
	}
	if _, err := stdcopy.StdCopy(f, f, rc); err != nil { // no TTY: the log is multiplexed
		return fmt.Errorf("copy the container's log to %s: %w", path, err)
	}
	return nil
}

// contains reports whether the file holds b, reading it from the start.
func contains(f *os.File, b []byte) (bool, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("read log %s: %w", f.Name(), err)
	}
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 64<<10)
	for {
		n, err := f.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, b) {
			return true, nil
		}
		if len(buf) > len(b) { // keep the tail a match may start in
			buf = append(buf[:0], buf[len(buf)-len(b):]...)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read log %s: %w", f.Name(), err)
		}
	}
}
