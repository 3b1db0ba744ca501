package orchestrator

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/plugins/election"
)

// The health probes (docs/api.md, "Health probes"). Neither is a read: the
// scaler never counts them.

// readiness is ready when a master and at least one slave are ready: the
// DB API can then take writes and reads.
func readiness(ws []api.WorkerInfo) api.Readiness {
	var r api.Readiness
	for _, w := range ws {
		switch {
		case !w.Ready:
		case w.Role == election.RoleMaster:
			r.Master = w.ID
		case w.Role == election.RoleSlave && !w.Draining:
			r.ReadySlaves++
		}
	}
	var missing []string
	if r.Master == "" {
		missing = append(missing, "no ready master (an election or a start may be in progress)")
	}
	if r.ReadySlaves == 0 {
		missing = append(missing, "no ready slave (a replacement may still be catching up)")
	}
	r.Ready = len(missing) == 0
	if !r.Ready {
		r.Error = "not ready: " + strings.Join(missing, "; ")
	}
	return r
}

func (o *Orchestrator) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ws, err := o.sup.Workers(r.Context())
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("not ready: cannot list the workers: %v", err))
		return
	}
	rd := readiness(ws)
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	httpjson.WriteJSON(w, status, rd)
}

func (o *Orchestrator) handleLivez(w http.ResponseWriter, r *http.Request) {
	httpjson.WriteJSON(w, http.StatusOK, map[string]string{"status": "live"})
}
