package stacktest

import (
	"testing"

	"github.com/rideshare/dbaas/internal/config"
)

// Attach is a Stack for an orchestrator this process did not start (one run
// by `rideshare up`, say): url is its base URL, cfg the configuration it was
// started with, dir its data dir. Every method that talks to the
// orchestrator or opens the workers' state works on it; StartOrchestrator,
// StopOrchestrator and Stop do not (they manage an in-process orchestrator),
// and nothing is stopped when the test ends — whoever started the stack
// stops it.
//
// The Stack fails t, so a test that runs subtests attaches once per subtest.
func Attach(t testing.TB, url string, cfg *config.Config, dir string) *Stack {
	return &Stack{t: t, Config: cfg, URL: url, Dir: dir}
}
