package httpmetrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rideshare/dbaas/internal/httpmetrics"
)

func server(t testing.TB) (*prometheus.Registry, http.Handler) {
	t.Helper()
	reg := httpmetrics.NewRegistry()
	m := httpmetrics.New(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/rides/{rideId}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("rideId") == "0" {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "{}")
	})
	mux.Handle("/metrics", httpmetrics.Handler(reg))
	return reg, m.Middleware(mux)
}

func do(t testing.TB, h http.Handler, method, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code
}

func TestRequestsAreLabelledByPatternNotPath(t *testing.T) {
	reg, h := server(t)
	for i := 1; i <= 5; i++ {
		do(t, h, http.MethodGet, "/api/v1/rides/"+strings.Repeat("7", i))
	}
	do(t, h, http.MethodGet, "/api/v1/rides/0")
	do(t, h, "BREW", "/api/v1/rides/1")
	do(t, h, http.MethodGet, "/nowhere/"+strings.Repeat("x", 100))

	want := `
# HELP rideshare_http_requests_total HTTP requests answered, by route pattern, method and status code.
# TYPE rideshare_http_requests_total counter
rideshare_http_requests_total{code="200",method="GET",route="/api/v1/rides/{rideId}"} 5
rideshare_http_requests_total{code="200",method="other",route="/api/v1/rides/{rideId}"} 1
rideshare_http_requests_total{code="400",method="GET",route="/api/v1/rides/{rideId}"} 1
rideshare_http_requests_total{code="404",method="GET",route="unmatched"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), httpmetrics.RequestsName); err != nil {
		t.Fatal(err)
	}
	if n := series(t, reg, httpmetrics.DurationName); n != 3 {
		t.Fatalf("%d latency series, want 3 (route × method: GET, other, and the unmatched GET)", n)
	}
}

// series counts the series of the family name.
func series(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

func TestMetricsRouteServesTextFormat(t *testing.T) {
	_, h := server(t)
	do(t, h, http.MethodGet, "/api/v1/rides/3")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{httpmetrics.RequestsName, httpmetrics.DurationName + "_bucket", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
}

// BenchmarkMiddleware is the cost the instrumentation adds to one request
// (compare with BenchmarkBare).
func BenchmarkMiddleware(b *testing.B) {
	_, h := server(b)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/rides/3", nil)
	w := discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

func BenchmarkBare(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/rides/{rideId}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	req := httptest.NewRequest(http.MethodGet, "/api/v1/rides/3", nil)
	w := discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(w, req)
	}
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
