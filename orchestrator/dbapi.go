package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/httpjson"
)

// The DB API (docs/api.md, "Orchestrator DB API"). The orchestrator never
// touches a database: it validates, publishes, and relays the worker's answer.

func (o *Orchestrator) handleWrite(w http.ResponseWriter, r *http.Request) {
	var req dbapi.WriteRequest
	body, ok := httpjson.DecodeDBBody(w, r, &req)
	if !ok {
		return
	}
	if req.Op == dbapi.OpClear {
		httpjson.WriteError(w, http.StatusBadRequest, "op: use POST "+api.RouteDBClear+" to empty the database")
		return
	}
	if httpjson.Invalid(w, req.Validate()) {
		return
	}
	// Checked once here; the body goes on as the caller sent it (the master
	// decodes and checks it again: it trusts no message).
	o.call(w, r, broker.WriteQ, body, broker.CallOptions{Persistent: true})
}

// clearBody is the one write POST /api/v1/db/clear sends.
var clearBody = []byte(`{"op":"` + dbapi.OpClear + `"}`)

func (o *Orchestrator) handleClear(w http.ResponseWriter, r *http.Request) {
	o.call(w, r, broker.WriteQ, clearBody, broker.CallOptions{Persistent: true})
}

func (o *Orchestrator) handleRead(w http.ResponseWriter, r *http.Request) {
	var req dbapi.ReadRequest
	body, ok := httpjson.DecodeDBBody(w, r, &req)
	if !ok {
		return
	}
	if httpjson.Invalid(w, req.Validate()) {
		return
	}
	o.scaler.countRead()
	o.call(w, r, broker.ReadQ, body, broker.CallOptions{Expiration: o.opts.RPCTimeout, Coalesce: true})
}

// call sends one request to a worker and relays its answer as it came: the
// worker wrote the status and the JSON body.
func (o *Orchestrator) call(w http.ResponseWriter, r *http.Request, queue string, msg []byte, opt broker.CallOptions) {
	ctx, cancel := context.WithTimeout(r.Context(), o.opts.RPCTimeout)
	defer cancel()
	ans, err := o.rpc.Call(ctx, queue, requestID(), msg, opt)
	switch {
	case errors.Is(err, broker.ErrTimeout):
		o.metrics.rpcTimeout(queue)
		httpjson.WriteError(w, http.StatusGatewayTimeout, fmt.Sprintf("no worker answered on %s within %s", queue, o.opts.RPCTimeout))
		return
	case err != nil:
		httpjson.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ans.Status)
	w.Write(ans.Body)
}

// requestIDs are this process's random prefix and a counter: a request id
// is the correlation id of the RPC and, for writes, the write id that makes a
// redelivered write take effect once, so it must never repeat, across
// orchestrator restarts too (128 random bits per process), and it is made
// for every request, so it must be cheap (no read of the system's random
// source each time).
var requestIDs = struct {
	prefix string
	n      atomic.Uint64
}{prefix: newID()}

func requestID() string {
	return requestIDs.prefix + "-" + strconv.FormatUint(requestIDs.n.Add(1), 36)
}

// newID is 128 random bits in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
