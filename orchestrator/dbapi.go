package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/rideshare/dbaas/broker"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/httpjson"
)

// The DB API (DESIGN §3.1). The orchestrator never touches a database: it
// validates, publishes, and relays the worker's answer.

func (o *Orchestrator) handleWrite(w http.ResponseWriter, r *http.Request) {
	var req dbapi.WriteRequest
	if !httpjson.DecodeBody(w, r, &req) {
		return
	}
	if req.Op == dbapi.OpClear {
		httpjson.WriteError(w, http.StatusBadRequest, "op: use POST /api/v1/db/clear to empty the database")
		return
	}
	o.write(w, r, req)
}

func (o *Orchestrator) handleClear(w http.ResponseWriter, r *http.Request) {
	o.write(w, r, dbapi.WriteRequest{Op: dbapi.OpClear})
}

func (o *Orchestrator) write(w http.ResponseWriter, r *http.Request, req dbapi.WriteRequest) {
	if err := req.Validate(); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	msg, _ := json.Marshal(req)
	o.call(w, r, broker.WriteQ, msg, broker.CallOptions{Confirm: true})
}

func (o *Orchestrator) handleRead(w http.ResponseWriter, r *http.Request) {
	var req dbapi.ReadRequest
	if !httpjson.DecodeBody(w, r, &req) {
		return
	}
	if err := req.Validate(); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	o.scaler.countRead()
	msg, _ := json.Marshal(req)
	o.call(w, r, broker.ReadQ, msg, broker.CallOptions{Expiration: o.opts.RPCTimeout})
}

// call sends one request to a worker and relays its answer.
func (o *Orchestrator) call(w http.ResponseWriter, r *http.Request, queue string, msg []byte, opt broker.CallOptions) {
	ctx, cancel := context.WithTimeout(r.Context(), o.opts.RPCTimeout)
	defer cancel()
	out, err := o.rpc.Call(ctx, queue, newID(), msg, opt)
	switch {
	case errors.Is(err, broker.ErrTimeout):
		httpjson.WriteError(w, http.StatusGatewayTimeout, fmt.Sprintf("no worker answered on %s within %s", queue, o.opts.RPCTimeout))
		return
	case err != nil:
		httpjson.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	var rep dbapi.Reply
	if err := json.Unmarshal(out, &rep); err != nil {
		httpjson.WriteError(w, http.StatusBadGateway, fmt.Sprintf("unreadable worker reply: %v", err))
		return
	}
	switch {
	case rep.Error != "":
		httpjson.WriteJSON(w, rep.Status, dbapi.ErrorBody{Error: rep.Error})
	case rep.Write != nil:
		httpjson.WriteJSON(w, rep.Status, rep.Write)
	case rep.Read != nil:
		httpjson.WriteJSON(w, rep.Status, rep.Read)
	default:
		httpjson.WriteError(w, http.StatusBadGateway, "empty worker reply")
	}
}

// newID is a request id: the correlation id of the RPC and, for writes, the
// id that makes a redelivered write take effect once.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
