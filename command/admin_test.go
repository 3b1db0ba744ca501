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

	// An unreachable orchestrator is a clear message and a non-zero exit.
	out, err = rideshare(t, "status", "-addr", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(out, "cannot reach the orchestrator at http://127.0.0.1:1") {
		t.Fatalf("status against nothing: %v\n%s", err, out)
	}
}
