package orchestrator

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/plugins/election"
)

// GET /api/v1/status (docs/api.md): the workers with their lag, the
// master's epoch and seq, and the last failover. Every figure comes from the
// workers' election records, which each worker refreshes every
// worker.Config.ReportEvery (1 s by default): the orchestrator asks no
// worker, and a lag is as fresh as the two records it compares.

// fillLag sets each worker's Lag: the master's applied seq minus its own,
// 0 for the master itself, when there is no master, and when a record
// refreshed later than the master's shows the worker ahead.
func fillLag(ws []api.WorkerInfo) {
	seq, ok := masterSeq(ws)
	for i := range ws {
		ws[i].Lag = 0
		if ok && ws[i].Role != election.RoleMaster && seq > ws[i].AppliedSeq {
			ws[i].Lag = seq - ws[i].AppliedSeq
		}
	}
}

// masterSeq is the master's applied seq (ok=false: no master).
func masterSeq(ws []api.WorkerInfo) (uint64, bool) {
	for _, w := range ws {
		if w.Role == election.RoleMaster {
			return w.AppliedSeq, true
		}
	}
	return 0, false
}

// status is the answer of GET /api/v1/status for one view.
func (o *Orchestrator) status(v supervisorView) api.Status {
	st := api.Status{Workers: v.workers, LastFailover: o.events.failover()}
	if v.hasLeader {
		st.Epoch, st.Master = v.leader.Epoch, v.leader.ID
	}
	st.MasterSeq, _ = masterSeq(v.workers)
	return st
}

// role is this orchestrator's entry of the status: its id, its role, and
// the supervisor's id as the election shows it now.
func (o *Orchestrator) role(ctx context.Context) *api.OrchestratorRole {
	r := &api.OrchestratorRole{ID: o.opts.ID, Role: api.RoleStandby}
	if o.sup.Supervising() {
		r.Role = api.RoleSupervising
	}
	if id, ok, err := o.sup.CurrentSupervisor(ctx); err == nil && ok {
		r.Supervisor = id
	}
	return r
}

// roleChanged puts a change of role on the timeline.
func (o *Orchestrator) roleChanged(supervising bool) {
	detail := fmt.Sprintf("%s holds the supervision lock: it starts, replaces and drains workers", o.opts.ID)
	if !supervising {
		detail = fmt.Sprintf("%s lost the supervision lock (its election session ended): it stands by", o.opts.ID)
	}
	o.events.add(api.Event{Kind: api.EventSupervision, Detail: detail})
}

func (o *Orchestrator) handleStatus(w http.ResponseWriter, r *http.Request) {
	v, err := o.sup.view(r.Context())
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("read the workers: %v", err))
		return
	}
	st := o.status(v)
	st.Orchestrator = o.role(r.Context())
	httpjson.WriteJSON(w, http.StatusOK, st)
}
