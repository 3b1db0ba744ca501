package runtimetest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// procInfo is a host process as the tests check it.
type procInfo struct {
	state byte
	ticks uint64 // /proc/<pid>/stat field 22: identifies the process across pid reuse
}

func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return procInfo{}, false
	}
	ticks, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return procInfo{}, false
	}
	return procInfo{state: f[0][0], ticks: ticks}, true
}

// alive reports whether pid runs (a zombie counts as dead) and, if ticks is
// non-zero, is still the process started at ticks.
func alive(pid int, ticks uint64) bool {
	p, ok := readProc(pid)
	if !ok || p.state == 'Z' || p.state == 'X' {
		return false
	}
	return ticks == 0 || p.ticks == ticks
}

// procComm is /proc/<pid>/comm: the first 15 bytes of the program's name.
func procComm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// procStrings reads a NUL-separated /proc file (cmdline, environ).
func procStrings(pid int, name string) []string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + name)
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ready reports whether the testworker at pid has its signal handling in
// place: it then ignores SIGUSR2 (bit 11 of SigIgn in /proc/<pid>/status).
func ready(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(12-1)) != 0
		}
	}
	return false
}
