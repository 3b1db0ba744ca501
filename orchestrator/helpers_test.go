package orchestrator_test

import (
	"strings"
	"testing"

	"github.com/rideshare/dbaas/stacktest"
)

// forEachBackend runs a test on every deployment: process+sqlite, and
// docker+postgres where a Docker engine runs.
func forEachBackend(t *testing.T, test func(t *testing.T, config string)) {
	for _, config := range stacktest.Backends() {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(config, "hcl/"), ".hcl"), func(t *testing.T) { test(t, config) })
	}
}
