package orchestrator_test

import (
	"testing"

	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/orchestrator"
)

// On a running stack /readyz answers 200 naming the master and the ready
// slaves, /livez answers 200, and both refuse other methods with a 405.
func TestHealthProbes(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	var rd orchestrator.Readiness
	if code := s.Do("GET", "/readyz", nil, &rd); code != 200 || !rd.Ready || rd.Master == "" || rd.ReadySlaves != 1 {
		t.Fatalf("readyz: %d %+v", code, rd)
	}
	var live map[string]string
	if code := s.Do("GET", "/livez", nil, &live); code != 200 || live["status"] != "live" {
		t.Fatalf("livez: %d %v", code, live)
	}
	for _, path := range []string{"/readyz", "/livez"} {
		if code := s.Do("POST", path, nil, nil); code != 405 {
			t.Fatalf("POST %s: %d, want 405", path, code)
		}
	}
}
