// Package procfs reads what the project needs of a process from Linux's
// /proc: its state and parent, its command line, and the process list.
// Plugins use it to notice a frozen host; the fault suite and the tests of
// `rideshare up` use it to find and watch the stack's processes. Where there
// is no /proc every process reads as absent.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stat is the part of /proc/<pid>/stat the project reads.
type Stat struct {
	// State is the one-letter state: R, S, D, T (stopped), t (traced), Z
	// (zombie), …
	State byte
	PPID  int
}

// Stopped: stopped by a signal (SIGSTOP, SIGTSTP) or by a debugger.
func (s Stat) Stopped() bool { return s.State == 'T' || s.State == 't' }

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return Stat{}, err
	}
	// The fields follow the command name, which is in parentheses and may
	// itself hold spaces or parentheses: read after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("%s: no command name in %q", path, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("%s: no state and parent in %q", path, b)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Stat{}, fmt.Errorf("%s: parent pid %q: %w", path, f[1], err)
	}
	return Stat{State: f[0][0], PPID: ppid}, nil
}

// Alive: the process exists and is not a zombie.
func Alive(pid int) bool {
	s, err := ReadStat(pid)
	return err == nil && s.State != 'Z'
}

// Stopped: the process exists and is stopped.
func Stopped(pid int) bool {
	s, err := ReadStat(pid)
	return err == nil && s.Stopped()
}

// Process is one entry of List.
type Process struct {
	PID, PPID int
	Args      []string // the command line
}

// List is every process readable in /proc (kernel threads, whose command
// line is empty, left out).
func List() []Process {
	var out []Process
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil {
			continue
		}
		out = append(out, Process{PID: pid, PPID: st.PPID, Args: strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")})
	}
	return out
}
