package uitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/orchestrator/ui"
)

// fakeToken is the admin token fakeAPI wants.
const fakeToken = "fake-admin-token"

// fakeAPI serves the dashboard beside canned answers of the routes whose
// handlers other parts of the orchestrator own (status, events, /metrics)
// and an admin token check, shaped by the shared contract (api/types.go,
// the metric names in docs/operations.md). TestDashboard runs the page on a
// real stack; this shows it draws those routes once they answer.
func fakeAPI(t *testing.T) *httptest.Server {
	started := time.Now().Add(-90 * time.Minute)
	workers := []api.WorkerInfo{
		{ID: "w-master", PID: 101, Role: "master", AppliedSeq: 500, StartedAt: started, Ready: true},
		{ID: "w-slave", PID: 102, Role: "slave", AppliedSeq: 498, StartedAt: started, Ready: true, Lag: 2},
		{ID: "w-new", PID: 103, Role: "slave", AppliedSeq: 100, StartedAt: time.Now(), Lag: 400,
			CatchingUp: &api.CatchUp{Phase: "replaying", Unit: "seq", Done: 100, Total: 500, Rate: 50, ETASeconds: 8}},
	}
	events := []api.Event{
		{Time: started, Kind: api.EventFailover, Worker: "w-master", PID: 101, Epoch: 7, DurationMS: 812.5, Detail: "master w-old died"},
		{Time: started.Add(time.Minute), Kind: api.EventReplaced, Worker: "w-new", PID: 103, Detail: "replaced w-old"},
	}
	var mu sync.Mutex
	scrapes := 0
	mux := http.NewServeMux()
	mux.Handle(api.RouteUI, ui.Handler())
	admin := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+fakeToken {
				httpjson.WriteError(w, http.StatusUnauthorized, "missing or wrong admin token")
				return
			}
			httpjson.WriteJSON(w, http.StatusOK, v)
		}
	}
	mux.Handle(api.RouteWorkers, admin(workers))
	mux.Handle(api.RouteStatus, admin(api.Status{Epoch: 7, Master: "w-master", MasterSeq: 500, Workers: workers, LastFailover: &events[0]}))
	mux.Handle(api.RouteEvents, admin(events))
	// Every scrape adds 10 reads of 5 ms each and 2 writes of 20 ms each.
	mux.HandleFunc(api.RouteMetrics, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		scrapes++
		n := scrapes
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, `# TYPE rideshare_http_requests_total counter
rideshare_http_requests_total{route="/api/v1/db/read",method="POST",code="200"} %d
rideshare_http_requests_total{route="/api/v1/db/write",method="POST",code="200"} %d
# TYPE rideshare_http_request_duration_seconds histogram
rideshare_http_request_duration_seconds_bucket{route="/api/v1/db/read",method="POST",le="+Inf"} %d
rideshare_http_request_duration_seconds_sum{route="/api/v1/db/read",method="POST"} %g
rideshare_http_request_duration_seconds_count{route="/api/v1/db/read",method="POST"} %d
rideshare_http_request_duration_seconds_bucket{route="/api/v1/db/write",method="POST",le="+Inf"} %d
rideshare_http_request_duration_seconds_sum{route="/api/v1/db/write",method="POST"} %g
rideshare_http_request_duration_seconds_count{route="/api/v1/db/write",method="POST"} %d
`, 10*n, 2*n, 10*n, 0.05*float64(n), 10*n, 2*n, 0.04*float64(n), 2*n)
	})
	mux.HandleFunc("/", httpjson.NotFound)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDashboardDrawsTheContract(t *testing.T) {
	srv := fakeAPI(t)
	b := newBrowser(t)
	if err := b.Do(60*time.Second,
		chromedp.Navigate(srv.URL+api.RouteUI),
		chromedp.WaitVisible(chromedp.CSS("#workers")),
	); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	text := func(sel string) func() (string, error) {
		return func() (string, error) { return run(b, 30*time.Second, chromedp.TextContent(chromedp.CSS(sel))) }
	}
	waitText(t, "the request for the token", text("#messages"), "asks for an admin token")

	if err := b.Do(30*time.Second,
		chromedp.SetValue(chromedp.CSS("#token"), fakeToken),
		chromedp.Click(chromedp.CSS("#token-form button")),
	); err != nil {
		t.Fatalf("enter the admin token: %v", err)
	}
	waitText(t, "the workers", text("#workers tbody"), "w-master", "w-slave", "w-new", "1h 30m")
	waitText(t, "the epoch", text("#epoch"), "7")
	waitText(t, "the master", text("#master"), "w-master")
	waitText(t, "the catching-up worker's progress", text(`#workers tr[data-id="w-new"]`), "replaying", "100 / 500 seq", "8s left")
	waitText(t, "the event timeline", text("#events tbody"), "failover", "812.5 ms", "master w-old died", "replaced")
	// Means over each interval are exact: 5 ms a read, 20 ms a write.
	waitText(t, "the read latency", text("#read-latency-now"), "5 ms")
	waitText(t, "the write latency", text("#write-latency-now"), "20 ms")
	waitFor(t, 30*time.Second, "sparklines of the rates", func() error {
		n, err := eval[int](b, `document.querySelectorAll("#read-rate svg polyline, #write-rate svg polyline").length`)
		if err != nil {
			return err
		}
		if n < 2 {
			return fmt.Errorf("%d polylines", n)
		}
		return nil
	})
	saveScreenshot(t, b, filepath.Join(t.ArtifactDir(), "dashboard-contract.png"))
	if msgs, _ := text("#messages")(); strings.Contains(msgs, "admin token (401") {
		t.Errorf("the token request is still shown with the right token: %q", msgs)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problem(s):\n%s", len(p), strings.Join(p, "\n"))
	}
}

// waitText waits until the text got returns contains every one of want.
func waitText(t *testing.T, what string, got func() (string, error), want ...string) {
	t.Helper()
	waitFor(t, 30*time.Second, what, func() error {
		s, err := got()
		if err != nil {
			return err
		}
		for _, w := range want {
			if !strings.Contains(s, w) {
				return fmt.Errorf("%q lacks %q", s, w)
			}
		}
		return nil
	})
}
