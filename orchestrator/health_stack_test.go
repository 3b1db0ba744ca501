package orchestrator_test

import (
	"testing"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// On a running stack /readyz answers 200 naming the master and the ready
// slaves, /livez answers 200, and both refuse other methods with a 405.
func TestHealthProbes(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	var rd api.Readiness
	if code := s.Do("GET", api.RouteReadyz, nil, &rd); code != 200 || !rd.Ready || rd.Master == "" || rd.ReadySlaves != 1 {
		t.Fatalf("readyz: %d %+v", code, rd)
	}
	var live map[string]string
	if code := s.Do("GET", api.RouteLivez, nil, &live); code != 200 || live["status"] != "live" {
		t.Fatalf("livez: %d %v", code, live)
	}
	for _, path := range []string{api.RouteReadyz, api.RouteLivez} {
		if code := s.Do("POST", path, nil, nil); code != 405 {
			t.Fatalf("POST %s: %d, want 405", path, code)
		}
	}
}
