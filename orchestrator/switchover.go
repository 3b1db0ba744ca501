package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/plugins/election"
)

// A switchover (docs/operations.md, "Switchover") is a planned change of
// master in which no process is killed and no write fails:
//  1. the orchestrator puts a SwitchoverOrder for the current epoch in
//     writeQ, so the master meets it in order with the writes;
//  2. the master commits and answers the writes before it, sends those
//     after it back to writeQ, and hands its lead over (election.Handover):
//     the lead is reserved for the target, and the old master serves again as
//     a slave;
//  3. the target wins the lead, fences the log with a new epoch as every
//     master does, and takes the writes that waited in writeQ.
//
// New writes wait in writeQ from step 2 to the end of step 3: that is the
// stall the answer reports.

// switchoverPoll is how often the orchestrator looks for the new master
// once the old one has handed over.
const switchoverPoll = 5 * time.Millisecond

func (o *Orchestrator) handleSwitchover(w http.ResponseWriter, r *http.Request) {
	var req api.SwitchoverRequest
	if !httpjson.DecodeOptionalBody(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), o.opts.RPCTimeout)
	defer cancel()
	leader, ok := o.master(ctx, w)
	if !ok {
		return
	}
	ws, err := o.sup.Workers(ctx)
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("list the workers: %v", err))
		return
	}
	target, status, msg := switchoverTarget(ws, leader.ID, req.To)
	if status != 0 {
		httpjson.WriteError(w, status, msg)
		return
	}
	to := target.ID
	body, err := json.Marshal(broker.SwitchoverOrder{To: to, Epoch: leader.Epoch})
	if err != nil {
		httpjson.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("encode the order: %v", err))
		return
	}
	sent := time.Now()
	ans, err := o.rpc.Call(ctx, broker.WriteQ, requestID(), body,
		broker.CallOptions{Kind: broker.KindSwitchover, Expiration: o.opts.RPCTimeout})
	switch {
	case errors.Is(err, broker.ErrTimeout):
		httpjson.WriteError(w, http.StatusGatewayTimeout, fmt.Sprintf("the master did not answer the switchover order within %s", o.opts.RPCTimeout))
		return
	case err != nil:
		httpjson.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	case ans.Status != http.StatusOK:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ans.Status)
		w.Write(ans.Body)
		return
	}
	var done broker.SwitchoverDone
	if err := json.Unmarshal(ans.Body, &done); err != nil {
		httpjson.WriteError(w, http.StatusBadGateway, fmt.Sprintf("the master's answer %q: %v", ans.Body, err))
		return
	}
	handed := time.Now()
	epoch, err := o.awaitMaster(ctx, to, leader.Epoch)
	if err != nil {
		httpjson.WriteError(w, http.StatusGatewayTimeout, fmt.Sprintf("%s handed over to %s, which has not taken the lead: %v", done.From, to, err))
		return
	}
	took := time.Since(handed)
	o.events.add(api.Event{Kind: api.EventSwitchover, Worker: to, PID: target.PID, Epoch: epoch,
		DurationMS: float64(took.Microseconds()) / 1000, Detail: fmt.Sprintf("planned: %s handed its lead to %s", done.From, to)})
	o.log.Info("switchover", "from", done.From, "to", to, "epoch", epoch, "took", took.Round(time.Millisecond), "order_answered_after", handed.Sub(sent).Round(time.Millisecond))
	httpjson.WriteJSON(w, http.StatusOK, api.SwitchoverResult{From: done.From, To: to, Epoch: epoch, TookMS: float64(took.Microseconds()) / 1000})
}

// switchoverTarget picks the worker to hand over to: want when named, else
// the lowest-pid ready slave. A status other than 0 refuses, with msg.
func switchoverTarget(ws []api.WorkerInfo, master, want string) (target api.WorkerInfo, status int, msg string) {
	if want != "" {
		for _, wi := range ws {
			if wi.ID != want {
				continue
			}
			switch {
			case wi.ID == master:
				return wi, http.StatusConflict, fmt.Sprintf("to: %s is the master already", want)
			case wi.Draining:
				return wi, http.StatusConflict, fmt.Sprintf("to: %s is draining", want)
			case !wi.Ready:
				return wi, http.StatusConflict, fmt.Sprintf("to: %s is not ready (still catching up)", want)
			}
			return wi, 0, ""
		}
		return target, http.StatusNotFound, fmt.Sprintf("to: no worker %q (GET %s lists them)", want, api.RouteWorkers)
	}
	ws = append([]api.WorkerInfo(nil), ws...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].PID < ws[j].PID })
	for _, wi := range ws {
		if wi.Role == election.RoleSlave && wi.Ready && !wi.Draining && wi.ID != master {
			return wi, 0, ""
		}
	}
	return target, http.StatusConflict, "there is no ready slave to hand over to"
}

// awaitMaster waits until to leads at an epoch after old and its record
// says master: it takes writes from then on.
func (o *Orchestrator) awaitMaster(ctx context.Context, to string, old uint64) (uint64, error) {
	t := time.NewTicker(switchoverPoll)
	defer t.Stop()
	for {
		// One reading of the leader and the records together (view).
		v, err := o.sup.view(ctx)
		if err == nil && v.hasLeader && v.leader.ID == to && v.leader.Epoch > old {
			for _, wi := range v.workers {
				if wi.ID == to && wi.Role == election.RoleMaster {
					return v.leader.Epoch, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}
