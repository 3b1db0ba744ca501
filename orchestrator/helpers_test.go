package orchestrator_test

import (
	"strings"
	"testing"

	"github.com/rideshare/dbaas/internal/stacktest"
)

// forEachBackend runs a test on every deployment: process+sqlite, and
// docker+postgres where a Docker engine runs.
func forEachBackend(t *testing.T, test func(t *testing.T, config string)) {
	for _, config := range stacktest.Backends() {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(config, "hcl/"), ".hcl"), func(t *testing.T) { test(t, config) })
	}
}

// workerPIDs are the pids of the stack's workers now.
func workerPIDs(s *stacktest.Stack) map[int]bool {
	pids := map[int]bool{}
	for _, w := range s.Workers() {
		pids[w.PID] = true
	}
	return pids
}

// requireSameWorkers fails the test when a worker of the stack is not one of
// before: a worker was replaced instead of riding out a dependency's blip.
func requireSameWorkers(t *testing.T, s *stacktest.Stack, before map[int]bool) {
	t.Helper()
	for _, w := range s.Workers() {
		if !before[w.PID] {
			t.Errorf("worker %s (pid %d) is new: a worker was replaced instead of riding out the outage", w.ID, w.PID)
		}
	}
}
