// Package httpjson is the JSON-over-HTTP plumbing every service of the project
// shares: answers and errors as JSON, 405 with an Allow header for a known
// route with the wrong method, strict bounded body decoding, request counting
// and access logging. Errors are always {"error": "…"}, never a stack trace.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/httpmetrics"
)

// MaxBodyBytes bounds every request body of the RideShare services and the
// admin API; a larger one is a 413. It is the only bound on the length of a
// name or value (docs/api.md, "Lengths").
const MaxBodyBytes = 1 << 20

// MaxDBBodyBytes bounds a DB API request body (DecodeDBBody). A service's
// request within MaxBodyBytes turns into DB API requests that can be longer:
// its text is encoded again as JSON (where '<' becomes \u003c: up to six times
// the bytes) beside the request's own fields. The DB API takes all of it, so
// that any name or value a service accepted is stored.
const MaxDBBodyBytes = 8 * MaxBodyBytes

// apiPrefix is where a service's API lives; only paths under it are counted.
const apiPrefix = "/api/"

// CountPath is the _count route, the one API path never counted.
const CountPath = "/api/v1/_count"

// Methods routes one path by method; any other method is a 405 with a JSON
// body and an Allow header.
type Methods map[string]http.HandlerFunc

func (m Methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	sort.Strings(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteError(w, http.StatusMethodNotAllowed,
		fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
}

// NotFound answers a path no route serves.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
}

// CountRequests adds one to n for every request under /api/ except _count
// itself, before it is served, so failed and malformed requests count too.
func CountRequests(n *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, apiPrefix) && r.URL.Path != CountPath {
			n.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// LogRequests writes one debug line per request, naming its Origin.
func LogRequests(log hclog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpmetrics.StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.Code(),
			"origin", r.Header.Get("Origin"), "duration", time.Since(start))
	})
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers status with {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, dbapi.ErrorBody{Error: msg})
}

// Invalid answers 400 with err's message when err is not nil, and says
// whether it did: `if httpjson.Invalid(w, req.Validate()) { return }`.
func Invalid(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	WriteError(w, http.StatusBadRequest, err.Error())
	return true
}

// NoContent answers 204 with an empty body.
func NoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// DecodeBody reads a JSON object of at most MaxBodyBytes into into, strictly
// (unknown fields and trailing data are errors). On failure it has already
// answered 400 or 413 and returns false.
func DecodeBody(w http.ResponseWriter, r *http.Request, into any) bool {
	_, ok := DecodeBodyRaw(w, r, into)
	return ok
}

// DecodeBodyRaw is DecodeBody that also returns the body as read, for a
// caller that passes it on once it has checked it.
func DecodeBodyRaw(w http.ResponseWriter, r *http.Request, into any) ([]byte, bool) {
	return decodeBody(w, r, into, false)
}

// DecodeDBBody is DecodeBodyRaw for a DB API request: at most MaxDBBodyBytes.
func DecodeDBBody(w http.ResponseWriter, r *http.Request, into any) ([]byte, bool) {
	return decodeBodyLimit(w, r, into, false, MaxDBBodyBytes)
}

// DecodeOptionalBody is DecodeBody for a body that may be left out: an empty
// one leaves into as it is.
func DecodeOptionalBody(w http.ResponseWriter, r *http.Request, into any) bool {
	_, ok := decodeBody(w, r, into, true)
	return ok
}

func decodeBody(w http.ResponseWriter, r *http.Request, into any, optional bool) ([]byte, bool) {
	return decodeBodyLimit(w, r, into, optional, MaxBodyBytes)
}

func decodeBodyLimit(w http.ResponseWriter, r *http.Request, into any, optional bool, limit int64) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", limit))
		return nil, false
	case err != nil:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("body: cannot read: %v", err))
		return nil, false
	case len(bytes.TrimSpace(data)) == 0 && optional:
		return data, true
	case len(bytes.TrimSpace(data)) == 0:
		WriteError(w, http.StatusBadRequest, "body: missing, want a JSON object")
		return nil, false
	}
	if Invalid(w, dbapi.Decode(data, into)) {
		return nil, false
	}
	return data, true
}

// ServiceHandler adds the routes every RideShare service has — GET _count
// (answers [N]), DELETE _count (resets it, answers {}), GET /healthz and GET
// /metrics (neither counted) and a JSON 404 for any other path — and wraps
// mux with request counting, access logging and the request metrics of the
// service's own registry.
func ServiceHandler(name string, mux *http.ServeMux, count *atomic.Int64, log hclog.Logger) http.Handler {
	reg := httpmetrics.NewRegistry()
	mux.Handle(api.RouteMetrics, Methods{http.MethodGet: httpmetrics.Handler(reg).ServeHTTP})
	mux.Handle(CountPath, Methods{
		http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, []int64{count.Load()})
		},
		http.MethodDelete: func(w http.ResponseWriter, r *http.Request) {
			count.Store(0)
			WriteJSON(w, http.StatusOK, struct{}{})
		},
	})
	mux.Handle("/healthz", Methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": name})
	}})
	mux.HandleFunc("/", NotFound)
	return LogRequests(log, CountRequests(count, httpmetrics.New(reg).Middleware(mux)))
}
