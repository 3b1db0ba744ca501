package pluginhost

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// processStopped tells a stopped process (the host of a plugin frozen by
// SIGSTOP) from a running one, from its /proc state.
func TestProcessStopped(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if processStopped(pid) {
		t.Fatalf("pid %d reported stopped while running", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, true)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, false)
	if processStopped(1 << 30) {
		t.Fatal("a pid that does not exist reported stopped")
	}
}

func waitState(t *testing.T, pid int, stopped bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); processStopped(pid) != stopped; {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d: stopped=%v never seen", pid, stopped)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
