package procfs_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/procfs"
)

// A real child process read through /proc: its parent is this test, it is
// listed with its command line, stopped and resumed it reads so, and once
// reaped it is gone.
func TestProcessStates(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	st, err := procfs.ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getpid() || st.Stopped() || !procfs.Alive(pid) {
		t.Fatalf("running child: stat %+v, alive %v", st, procfs.Alive(pid))
	}
	listed := false
	for _, p := range procfs.List() {
		if p.PID == pid {
			listed = p.PPID == os.Getpid() && len(p.Args) == 2 && p.Args[0] == "sleep" && p.Args[1] == "30"
		}
	}
	if !listed {
		t.Fatalf("pid %d not listed as `sleep 30`, child of %d", pid, os.Getpid())
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stopped", func() bool { return procfs.Stopped(pid) })
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resumed", func() bool { return !procfs.Stopped(pid) })
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if procfs.Alive(pid) {
		t.Fatalf("pid %d alive after it was reaped", pid)
	}
	if _, err := procfs.ReadStat(pid); err == nil {
		t.Fatalf("pid %d: stat read after it was reaped", pid)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("never %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
