package orchestrator

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/plugins/election"
)

// The admin API (docs/api.md, "Orchestrator admin API").

// master is the current master; without one it has answered 503 (the
// election cannot be read) or 409 (none now) and ok is false.
func (o *Orchestrator) master(ctx context.Context, w http.ResponseWriter) (election.Leader, bool) {
	leader, ok, err := o.sup.Leader(ctx)
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("read the current master: %v", err))
		return leader, false
	}
	if !ok {
		httpjson.WriteError(w, http.StatusConflict, "there is no master right now (an election may be in progress)")
	}
	return leader, ok
}

func (o *Orchestrator) handleCrashMaster(w http.ResponseWriter, r *http.Request) {
	leader, ok := o.master(r.Context(), w)
	if !ok {
		return
	}
	pid := leader.PID
	for _, wi := range o.workersOrEmpty(r) {
		if wi.ID == leader.ID {
			pid = wi.PID
		}
	}
	if err := o.sup.Kill(r.Context(), leader.ID); err != nil {
		httpjson.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("%v", err))
		return
	}
	o.events.add(api.Event{Kind: api.EventCrash, Worker: leader.ID, PID: pid, Epoch: leader.Epoch,
		Detail: fmt.Sprintf("master %s (pid %d) crashed through the admin API", leader.ID, pid)})
	httpjson.WriteJSON(w, http.StatusOK, []string{strconv.Itoa(pid)})
}

func (o *Orchestrator) handleCrashSlave(w http.ResponseWriter, r *http.Request) {
	var victim *api.WorkerInfo
	for _, wi := range o.workersOrEmpty(r) {
		if wi.Role == election.RoleSlave && !wi.Draining && (victim == nil || wi.PID > victim.PID) {
			wi := wi
			victim = &wi
		}
	}
	if victim == nil {
		httpjson.WriteError(w, http.StatusConflict, "there is no slave to crash")
		return
	}
	if err := o.sup.Kill(r.Context(), victim.ID); err != nil {
		httpjson.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("%v", err))
		return
	}
	o.events.add(api.Event{Kind: api.EventCrash, Worker: victim.ID, PID: victim.PID,
		Detail: fmt.Sprintf("slave %s (pid %d) crashed through the admin API", victim.ID, victim.PID)})
	httpjson.WriteJSON(w, http.StatusOK, []string{strconv.Itoa(victim.PID)})
}

func (o *Orchestrator) handleWorkerList(w http.ResponseWriter, r *http.Request) {
	ws, err := o.sup.Workers(r.Context())
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("%v", err))
		return
	}
	pids := make([]int, 0, len(ws))
	for _, wi := range ws {
		pids = append(pids, wi.PID) // Workers is sorted by pid
	}
	httpjson.WriteJSON(w, http.StatusOK, pids)
}

func (o *Orchestrator) handleWorkers(w http.ResponseWriter, r *http.Request) {
	ws, err := o.sup.Workers(r.Context())
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("%v", err))
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, ws)
}

func (o *Orchestrator) workersOrEmpty(r *http.Request) []api.WorkerInfo {
	ws, err := o.sup.Workers(r.Context())
	if err != nil {
		return nil
	}
	return ws
}
