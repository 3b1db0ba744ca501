package command_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/stacktest"
)

// rideshare runs the CLI and returns its combined output.
func rideshare(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(stacktest.Binary(t), args...).CombinedOutput()
	return string(out), err
}

func TestOperatorCLI(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})

	out, err := rideshare(t, "worker", "list", "-addr", s.URL)
	if err != nil {
		t.Fatalf("worker list: %v\n%s", err, out)
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("worker list printed %q", out)
		}
		pids = append(pids, p)
	}
	if len(pids) != 2 || pids[0] > pids[1] {
		t.Fatalf("worker list = %v, want 2 sorted pids", pids)
	}

	out, err = rideshare(t, "status", "-addr", s.URL)
	if err != nil || !strings.Contains(out, "ROLE") || !strings.Contains(out, "master") || !strings.Contains(out, "slave") {
		t.Fatalf("status: %v\n%s", err, out)
	}

	out, err = rideshare(t, "crash", "slave", "-addr", s.URL)
	if err != nil || !strings.Contains(out, "killed slave pid "+strconv.Itoa(pids[1])) && !strings.Contains(out, "killed slave pid "+strconv.Itoa(pids[0])) {
		t.Fatalf("crash slave: %v\n%s", err, out)
	}
	s.WaitShape(1, 15*time.Second)

	// The address also comes from RIDESHARE_ADDR.
	cmd := exec.Command(stacktest.Binary(t), "crash", "master")
	cmd.Env = append(cmd.Environ(), "RIDESHARE_ADDR="+s.URL)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "killed master pid") {
		t.Fatalf("crash master via RIDESHARE_ADDR: %v\n%s", err, b)
	}
	s.WaitShape(1, 15*time.Second)

	// A switchover to a named worker, and a refused one: a clear message
	// and a non-zero exit.
	var target string
	waitReady := time.Now().Add(60 * time.Second)
	for target == "" && time.Now().Before(waitReady) {
		for _, w := range s.Workers() {
			if w.Role == "slave" && w.Ready {
				target = w.ID
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if target == "" {
		t.Fatalf("no ready slave to switch over to: %+v", s.Workers())
	}
	out, err = rideshare(t, "switchover", "-addr", s.URL, "-to", target)
	if err != nil || !strings.Contains(out, "switched over from ") || !strings.Contains(out, " to "+target) {
		t.Fatalf("switchover -to %s: %v\n%s", target, err, out)
	}
	out, err = rideshare(t, "switchover", "-addr", s.URL, "-to", "w-nobody")
	if err == nil || !strings.Contains(out, "w-nobody") {
		t.Fatalf("switchover to an unknown worker: %v\n%s", err, out)
	}

	// An unreachable orchestrator is a clear message and a non-zero exit.
	out, err = rideshare(t, "status", "-addr", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(out, "cannot reach the orchestrator at http://127.0.0.1:1") {
		t.Fatalf("status against nothing: %v\n%s", err, out)
	}
}
