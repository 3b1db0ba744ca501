package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process of the stack as /proc shows it.
type proc struct {
	PID, PPID int
	Args      []string // cmdline
}

// procs lists every process on the machine.
func procs() []proc {
	var out []proc
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		out = append(out, proc{PID: pid, PPID: parentOf(pid), Args: strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")})
	}
	return out
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// state is the one-letter state of /proc/<pid>/stat ("T" when stopped, "Z"
// for a zombie), or "" when there is no such process.
func state(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	return s[strings.LastIndexByte(s, ')')+2:][:1]
}

func alive(pid int) bool { st := state(pid); return st != "" && st != "Z" }

// child finds the child of parent whose cmdline after the binary starts with
// args: plugins run as "<rideshare> plugin <kind> <name>", so a worker's
// storage plugin is child(workerPID, "plugin", "storage").
func child(parent int, args ...string) (int, error) {
	for _, p := range procs() {
		if p.PPID == parent && alive(p.PID) && hasArgs(p.Args, args) {
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
	for _, p := range procs() {
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
	for _, p := range procs() {
		if strings.Contains(strings.Join(p.Args, " "), s) && alive(p.PID) {
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
	return waitFor(5*time.Second, fmt.Sprintf("pid %d to die", pid), func() bool { return !alive(pid) })
}

// stop sends SIGSTOP and waits for the kernel to report the process stopped.
func stop(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP %d: %w", pid, err)
	}
	return waitFor(5*time.Second, fmt.Sprintf("pid %d to stop", pid), func() bool { return state(pid) == "T" })
}

func cont(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
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
