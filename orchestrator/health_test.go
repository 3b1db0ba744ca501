package orchestrator

import (
	"strings"
	"testing"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/plugins/election"
)

// readiness needs a ready master and a ready, non-draining slave, and says
// what is missing otherwise.
func TestReadiness(t *testing.T) {
	m := api.WorkerInfo{ID: "m", Role: election.RoleMaster, Ready: true}
	s := api.WorkerInfo{ID: "s", Role: election.RoleSlave, Ready: true}
	for _, c := range []struct {
		name    string
		ws      []api.WorkerInfo
		ready   bool
		missing []string
	}{
		{"master and slave", []api.WorkerInfo{m, s}, true, nil},
		{"nothing", nil, false, []string{"no ready master", "no ready slave"}},
		{"master only", []api.WorkerInfo{m}, false, []string{"no ready slave"}},
		{"slave catching up", []api.WorkerInfo{m, {ID: "s", Role: election.RoleSlave}}, false, []string{"no ready slave"}},
		{"slave draining", []api.WorkerInfo{m, {ID: "s", Role: election.RoleSlave, Ready: true, Draining: true}}, false, []string{"no ready slave"}},
		{"no master", []api.WorkerInfo{s, s}, false, []string{"no ready master"}},
	} {
		r := readiness(c.ws)
		if r.Ready != c.ready {
			t.Errorf("%s: ready %v, want %v (%+v)", c.name, r.Ready, c.ready, r)
		}
		for _, m := range c.missing {
			if !strings.Contains(r.Error, m) {
				t.Errorf("%s: error %q does not say %q", c.name, r.Error, m)
			}
		}
		if c.ready && r.Error != "" {
			t.Errorf("%s: ready with error %q", c.name, r.Error)
		}
	}
}
