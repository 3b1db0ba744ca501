// Package httpmetrics counts and times the HTTP requests of one server for
// Prometheus, and serves that server's registry at GET /metrics. Every server
// of the project (orchestrator, users, rides, gateway) uses it.
//
// Invariants:
//   - The route label is a registered pattern (the ServeMux pattern that
//     matched, or a name the server chose at setup), never the raw path, and
//     the method label is one of the standard methods or "other": the number
//     of series is bounded whatever clients send.
//   - Per request the cost is one lookup of pre-resolved children, one
//     counter Inc and one histogram Observe; the label vectors are curried
//     once per route, and a (method, code) child is resolved once.
//   - Each server has its own registry (NewRegistry), so several servers in
//     one process never clash.
package httpmetrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names (docs/operations.md, "Metrics").
const (
	RequestsName = "rideshare_http_requests_total"
	DurationName = "rideshare_http_request_duration_seconds"
)

// Route labels of requests no pattern names.
const (
	// Unmatched labels a request that no registered pattern matched.
	Unmatched = "unmatched"
	// OtherMethod labels a request whose method is not a standard one.
	OtherMethod = "other"
)

// DefaultBuckets are the latency histogram's upper bounds in seconds: from
// half a millisecond (an HTTP hop) to 10 s (the default RPC timeout).
var DefaultBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// methods are the method labels; any other method is OtherMethod.
var methods = [...]string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
	http.MethodPatch, http.MethodHead, http.MethodOptions, OtherMethod,
}

func methodIndex(m string) int {
	for i, s := range methods[:len(methods)-1] {
		if s == m {
			return i
		}
	}
	return len(methods) - 1
}

// NewRegistry is a server's own registry, with the Go runtime and process
// collectors already in it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text format (GET /metrics).
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

// Metrics are one server's request counter and latency histogram.
type Metrics struct {
	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route, method
	// routes maps a pattern to its Route: read without a lock, replaced by
	// a copy (under mu) when a route is first seen.
	mu     sync.Mutex
	routes atomic.Pointer[map[string]*Route]
}

// New registers the request metrics in reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsName,
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    DurationName,
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: DefaultBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	m.routes.Store(&map[string]*Route{})
	return m
}

// Route is the instrumentation of one route, its label values resolved.
type Route struct {
	requests *prometheus.CounterVec // curried with the route
	duration prometheus.ObserverVec
	mu       sync.Mutex
	// byMethod holds, per method index, the children seen so far.
	byMethod [len(methods)]atomic.Pointer[methodCells]
}

// methodCells are a route's children for one method: its latency observer
// and a counter per status code seen (a short list, replaced by a copy when
// a code is first seen).
type methodCells struct {
	duration prometheus.Observer
	codes    atomic.Pointer[[]codeCount]
}

type codeCount struct {
	code  int
	count prometheus.Counter
}

// Route is the instrumentation of pattern, made (and curried) once.
func (m *Metrics) Route(pattern string) *Route {
	if rt, ok := (*m.routes.Load())[pattern]; ok {
		return rt
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.routes.Load()
	if rt, ok := old[pattern]; ok {
		return rt
	}
	l := prometheus.Labels{"route": pattern}
	rt := &Route{requests: m.requests.MustCurryWith(l), duration: m.duration.MustCurryWith(l)}
	routes := make(map[string]*Route, len(old)+1)
	for k, v := range old {
		routes[k] = v
	}
	routes[pattern] = rt
	m.routes.Store(&routes)
	return rt
}

// observe records one answered request.
func (rt *Route) observe(method string, code int, took time.Duration) {
	mi := methodIndex(method)
	mc := rt.byMethod[mi].Load()
	if mc == nil {
		mc = rt.newMethod(mi)
	}
	mc.duration.Observe(took.Seconds())
	for _, c := range *mc.codes.Load() {
		if c.code == code {
			c.count.Inc()
			return
		}
	}
	rt.newCode(mi, mc, code).Inc()
}

func (rt *Route) newMethod(mi int) *methodCells {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if mc := rt.byMethod[mi].Load(); mc != nil {
		return mc
	}
	mc := &methodCells{duration: rt.duration.WithLabelValues(methods[mi])}
	mc.codes.Store(&[]codeCount{})
	rt.byMethod[mi].Store(mc)
	return mc
}

func (rt *Route) newCode(mi int, mc *methodCells, code int) prometheus.Counter {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	old := *mc.codes.Load()
	for _, c := range old {
		if c.code == code {
			return c.count
		}
	}
	c := codeCount{code: code, count: rt.requests.WithLabelValues(methods[mi], strconv.Itoa(code))}
	codes := append(append(make([]codeCount, 0, len(old)+1), old...), c)
	mc.codes.Store(&codes)
	return c.count
}

// Serve runs h for one request of this route and records it.
func (rt *Route) Serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	start := time.Now()
	sw := &StatusWriter{ResponseWriter: w}
	h.ServeHTTP(sw, r)
	rt.observe(r.Method, sw.Code(), time.Since(start))
}

// Middleware records every request next serves under the ServeMux pattern
// that matched it. next must be the ServeMux itself, or pass the same
// *http.Request on to it: the mux sets r.Pattern on the request it gets.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		pattern := r.Pattern
		if pattern == "" {
			pattern = Unmatched
		}
		m.Route(pattern).observe(r.Method, sw.Code(), time.Since(start))
	})
}

// StatusWriter remembers the status the handler answered: the request
// metrics label by it, and httpjson's access log prints it.
type StatusWriter struct {
	http.ResponseWriter
	status int
}

func (s *StatusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of a
// proxied stream, hijacks).
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Code is the answered status; a handler that wrote nothing answered 200.
func (s *StatusWriter) Code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
