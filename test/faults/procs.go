package faults

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/rideshare/dbaas/internal/procfs"
)

// child finds the child of parent whose cmdline after the binary starts with
// args: plugins run as "<rideshare> plugin <kind> <name>", so a worker's
// storage plugin is child(workerPID, "plugin", "storage").
func child(parent int, args ...string) (int, error) {
	for _, p := range procfs.List() {
		if p.PPID == parent && procfs.Alive(p.PID) && hasArgs(p.Args, args) {
			return p.PID, nil
		}
	}
	return 0, fmt.Errorf("no child of pid %d runs %q", parent, strings.Join(args, " "))
}

func hasArgs(cmdline, args []string) bool {
	if len(cmdline) < len(args)+1 {
		return false
	}
	for i, a := range args {
		if cmdline[i+1] != a {
			return false
		}
	}
	return true
}

// tree is pid and every live process below it.
func tree(pid int) []int {
	children := map[int][]int{}
	for _, p := range procfs.List() {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// findProc is the first process whose cmdline contains s.
func findProc(s string) (int, error) {
	for _, p := range procfs.List() {
		if strings.Contains(strings.Join(p.Args, " "), s) && procfs.Alive(p.PID) {
			return p.PID, nil
		}
	}
	return 0, fmt.Errorf("no process runs %q", s)
}

// kill9 kills pid and waits until it is gone (or a zombie), so the fault
// has really happened when it returns.
func kill9(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	return waitFor(5*time.Second, fmt.Sprintf("pid %d to die", pid), func() bool { return !procfs.Alive(pid) })
}

// stop sends SIGSTOP and waits for the kernel to report the process stopped.
func stop(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP %d: %w", pid, err)
	}
	return waitFor(5*time.Second, fmt.Sprintf("pid %d to stop", pid), func() bool { return procfs.Stopped(pid) })
}

// cont resumes a stopped process. One that is gone meanwhile is no error:
// a worker or plugin stopped for longer than its grace is killed and
// replaced by the system, which is the recovery being tested.
func cont(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGCONT %d: %w", pid, err)
	}
	return nil
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
