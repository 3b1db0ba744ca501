package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// scan reads every state file and returns the live workers, sorted by id.
// Live workers this Runtime does not watch yet are adopted (a pidfd waiter
// reports their exit); stale files (dead pid, zombie, or pid reused) are
// removed and, since nobody saw that worker end, an Exit with code -1 is
// queued for it. It holds r.mu throughout, so it never races exited().
func (r *Runtime) scan() ([]runtime.Handle, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("process runtime: read state dir: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var live []runtime.Handle
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		st, err := r.readState(name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.log.Warn("ignoring unreadable worker state file", "file", name, "error", err)
			}
			continue
		}
		if w, ok := r.workers[st.ID]; ok {
			if !w.exited() {
				live = append(live, w.handle)
			}
			continue
		}
		w, err := r.adopt(st)
		if err != nil {
			r.log.Info("worker ended while unwatched; removing its state", "id", st.ID, "pid", st.PID, "reason", err)
			r.removeState(st.ID, st.PID, st.StartTicks)
			r.exits.Push(runtime.Exit{ID: st.ID, PID: st.PID, ExitCode: -1, At: time.Now()})
			continue
		}
		r.workers[st.ID] = w
		live = append(live, w.handle)
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	return live, nil
}

// adopt starts watching the worker st describes, which this Runtime did not
// start. A pidfd pins the process; the start time is checked after opening
// it, so the pidfd cannot refer to a later process that reused the pid.
// Callers hold r.mu.
func (r *Runtime) adopt(st stateFile) (*worker, error) {
	if !aliveAs(st.PID, st.StartTicks) {
		return nil, errors.New("process gone or pid reused")
	}
	w := &worker{
		handle: runtime.Handle{ID: st.ID, PID: st.PID, StartedAt: st.StartedAt},
		ticks:  st.StartTicks,
		done:   make(chan struct{}),
	}
	fd, err := unix.PidfdOpen(st.PID, 0)
	switch {
	case errors.Is(err, unix.ENOSYS):
		// Kernel before 5.3: no pidfd, fall back to watching /proc.
		r.log.Warn("pidfd unsupported, watching adopted worker through /proc", "id", st.ID)
		go r.watchProc(w)
	case err != nil:
		return nil, fmt.Errorf("pidfd_open: %w", err)
	default:
		if !aliveAs(st.PID, st.StartTicks) {
			unix.Close(fd)
			return nil, errors.New("process gone or pid reused")
		}
		go r.watchPidfd(w, fd)
	}
	r.log.Info("adopted worker", "id", st.ID, "pid", st.PID)
	return w, nil
}

// watchPidfd blocks in poll(2) until the adopted worker exits (its pidfd
// becomes readable) or the Runtime's ctx ends (the cancel pipe hangs up),
// then reports the exit. It owns fd.
func (r *Runtime) watchPidfd(w *worker, fd int) {
	defer unix.Close(fd)
	fds := []unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLIN},
		{Fd: int32(r.cancelR.Fd()), Events: unix.POLLIN},
	}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			r.log.Error("poll on worker pidfd failed; its exit will not be reported", "id", w.handle.ID, "error", err)
			return
		}
		if fds[0].Revents != 0 {
			break
		}
		if fds[1].Revents != 0 {
			return // Runtime stopped: stop watching, the worker lives on
		}
	}
	at := time.Now()
	r.exited(w, pidfdExitCode(fd), at)
}

// exitCodeWait bounds how long an adopted worker's Exit waits for its exit
// code: the Exit is the orchestrator's fast failure signal, the code is
// secondary.
const exitCodeWait = 300 * time.Millisecond

// pidfdExitCode returns the exit code of an exited, non-child process from
// its pidfd (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15+), or -1 when
// the kernel cannot tell. The kernel records it only once the parent (init
// or a subreaper, after an orchestrator restart) has reaped the process, so
// this waits up to exitCodeWait for that; the process has already exited.
func pidfdExitCode(fd int) int {
	deadline := time.Now().Add(exitCodeWait)
	for delay := time.Millisecond; ; delay *= 2 {
		info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
		if err := unix.IoctlPidfdInfo(fd, &info); err != nil {
			return -1 // ioctl unsupported (kernel before 6.13)
		}
		if info.Mask&unix.PIDFD_INFO_EXIT != 0 {
			return waitStatusCode(syscall.WaitStatus(uint32(info.Exit_code)))
		}
		if info.Supported_mask != 0 && info.Supported_mask&unix.PIDFD_INFO_EXIT == 0 {
			return -1 // kernel lacks PIDFD_INFO_EXIT
		}
		if time.Now().After(deadline) {
			return -1 // not reaped yet: its parent is not waiting for it
		}
		time.Sleep(min(delay, 50*time.Millisecond))
	}
}

// watchProc is the fallback for kernels without pidfd: it checks /proc
// every half second until the worker is gone or the Runtime stopped.
func (r *Runtime) watchProc(w *worker) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for aliveAs(w.handle.PID, w.ticks) {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
	r.exited(w, -1, time.Now())
}
