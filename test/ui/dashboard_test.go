package uitest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// ScreenshotEnv names the file the test saves its screenshot to (default:
// dashboard.png in the test's artifact directory, see go test -artifacts).
const ScreenshotEnv = "RIDESHARE_UI_SCREENSHOT"

// shownPIDs is the pids of the rows of the page's worker table.
const shownPIDs = `Array.from(document.querySelectorAll("#workers tbody tr[data-pid]"), r => Number(r.dataset.pid))`

func TestDashboard(t *testing.T) {
	chromium(t) // fail at once, before a stack is started, when there is none
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	b := newBrowser(t)

	// The bare route redirects to the dashboard.
	if err := b.Do(60*time.Second,
		chromedp.Navigate(s.URL+strings.TrimSuffix(api.RouteUI, "/")),
		chromedp.WaitVisible(chromedp.CSS("#workers")),
	); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	location, err := run(b, 30*time.Second, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if location != s.URL+api.RouteUI {
		t.Fatalf("the dashboard is at %s, want %s", location, s.URL+api.RouteUI)
	}

	// Every worker the API lists is in the table, and the master is named.
	before := s.Workers()
	var master api.WorkerInfo
	var victim api.WorkerInfo // crash/slave kills the slave with the highest pid
	for _, w := range before {
		if w.Role == "master" {
			master = w
		} else if w.PID > victim.PID {
			victim = w
		}
	}
	waitFor(t, 60*time.Second, "every worker's pid in the page", func() error {
		shown, err := eval[[]int](b, shownPIDs)
		if err != nil {
			return err
		}
		for _, w := range before {
			if !slices.Contains(shown, w.PID) {
				return fmt.Errorf("pid %d of %s missing from the table %v", w.PID, w.ID, shown)
			}
		}
		return nil
	})
	masterCard, err := run(b, 30*time.Second, chromedp.Text(chromedp.CSS("#master")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(masterCard, master.ID) {
		t.Errorf("master card says %q, want the master %s", masterCard, master.ID)
	}

	checkMetricsParser(t, b)

	// Crash the slave through the page: it disappears, a new one comes.
	if err := b.Do(30*time.Second, chromedp.Click(chromedp.CSS("#crash-slave"))); err != nil {
		t.Fatalf("click crash slave: %v", err)
	}
	// The page reports the pid the orchestrator killed (the message stays
	// for a while only, so look now).
	waitFor(t, 30*time.Second, "the page reporting the crash", func() error {
		msgs, err := run(b, 30*time.Second, chromedp.TextContent(chromedp.CSS("#messages")))
		if err != nil {
			return err
		}
		if !strings.Contains(msgs, "killed pid "+strconv.Itoa(victim.PID)) {
			return fmt.Errorf("messages %q do not name pid %d", msgs, victim.PID)
		}
		return nil
	})
	var replacement int
	waitFor(t, 90*time.Second, fmt.Sprintf("crashed slave pid %d gone from the page and a new pid shown", victim.PID), func() error {
		shown, err := eval[[]int](b, shownPIDs)
		if err != nil {
			return err
		}
		if slices.Contains(shown, victim.PID) {
			return fmt.Errorf("pid %d still shown: %v", victim.PID, shown)
		}
		for _, pid := range shown {
			if !slices.ContainsFunc(before, func(w api.WorkerInfo) bool { return w.PID == pid }) {
				replacement = pid
				return nil
			}
		}
		return fmt.Errorf("no new pid yet: %v", shown)
	})
	t.Logf("crashed slave pid %d, replacement pid %d shown", victim.PID, replacement)
	if !slices.ContainsFunc(s.Workers(), func(w api.WorkerInfo) bool { return w.PID == replacement }) {
		t.Errorf("pid %d shown by the page is not in %s", replacement, api.RouteWorkers)
	}

	// The timeline shows the crash and the replacement; the switchover
	// button moves the lead, and the timeline and the master card show it.
	waitEvents(t, b, api.EventCrash, api.EventReplaced)
	oldMaster := ""
	for _, w := range s.Workers() {
		if w.Role == "master" {
			oldMaster = w.ID
		}
	}
	waitFor(t, 90*time.Second, "every worker ready before the switchover", func() error {
		for _, w := range s.Workers() {
			if !w.Ready {
				return fmt.Errorf("%s not ready", w.ID)
			}
		}
		return nil
	})
	if err := b.Do(30*time.Second, chromedp.Click(chromedp.CSS("#switchover"))); err != nil {
		t.Fatalf("click switchover: %v", err)
	}
	waitEvents(t, b, api.EventSwitchover)
	waitFor(t, 30*time.Second, "the master card naming the new master", func() error {
		shown, err := eval[string](b, `document.getElementById("master").innerText`)
		if err != nil {
			return err
		}
		if shown == "" || strings.Contains(shown, oldMaster) {
			return fmt.Errorf("master card %q, old master %s", shown, oldMaster)
		}
		return nil
	})

	path := os.Getenv(ScreenshotEnv)
	if path == "" {
		path = filepath.Join(t.ArtifactDir(), "dashboard.png")
		t.Logf("the artifact directory is kept only with go test -artifacts; or set %s", ScreenshotEnv)
	}
	saveScreenshot(t, b, path)
	checkToken(t, b, s.URL)

	if p := b.Problems(); len(p) > 0 {
		t.Errorf("the page reported %d problem(s):\n%s", len(p), strings.Join(p, "\n"))
	}
}

// checkMetricsParser feeds the page's parser Prometheus text with the
// metric names the orchestrator's /metrics exports and checks the read and
// write totals it adds up (the charts are rates and means of these).
func checkMetricsParser(t *testing.T, b *browser) {
	t.Helper()
	const text = `# HELP rideshare_http_requests_total HTTP requests.
# TYPE rideshare_http_requests_total counter
rideshare_http_requests_total{route="/api/v1/db/read",method="POST",code="200"} 40
rideshare_http_requests_total{route="/api/v1/db/read",method="POST",code="503"} 2
rideshare_http_requests_total{code="200",method="POST",route="/api/v1/db/write"} 7
rideshare_http_requests_total{route="/api/v1/db/clear",method="POST",code="200"} 1 1712345678000
rideshare_http_requests_total{route="/api/v1/workers",method="GET",code="200"} 99
rideshare_http_request_duration_seconds_bucket{route="/api/v1/db/read",method="POST",le="+Inf"} 42
rideshare_http_request_duration_seconds_sum{route="/api/v1/db/read",method="POST"} 0.84
rideshare_http_request_duration_seconds_count{route="/api/v1/db/read",method="POST"} 42
rideshare_http_request_duration_seconds_sum{route="/api/v1/db/write",method="POST",note="a \"quoted\", {odd} value"} 1.5e-1
rideshare_http_request_duration_seconds_count{route="/api/v1/db/write",method="POST",note="a \"quoted\", {odd} value"} 8
rideshare_other{route="/api/v1/db/read"} 1000
`
	type sums struct{ Requests, Sum, Count float64 }
	enc, _ := json.Marshal(text)
	expr := fmt.Sprintf(`window.rideshareMetrics.totals(window.rideshareMetrics.parseMetrics(%s))`, enc)
	got, err := eval[map[string]sums](b, expr)
	if err != nil {
		t.Fatalf("run the page's metrics parser: %v", err)
	}
	want := map[string]sums{"read": {42, 0.84, 42}, "write": {8, 0.15, 8}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metrics totals: got %+v, want %+v", got, want)
	}
}

// checkToken enters an admin token and checks the next workers request
// carries it, then removes it again.
func checkToken(t *testing.T, b *browser, base string) {
	t.Helper()
	const token = "ui-test-token"
	if err := b.Do(30*time.Second,
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#token-form button")),
	); err != nil {
		t.Fatalf("enter the admin token: %v", err)
	}
	stored, err := eval[string](b, `localStorage.getItem("rideshare_admin_token")`)
	if err != nil || stored != token {
		t.Errorf("localStorage rideshare_admin_token = %q (%v), want %q", stored, err, token)
	}
	waitFor(t, 30*time.Second, "the token on the workers request", func() error {
		if a, _ := b.Authorization(base + api.RouteWorkers); a != "Bearer "+token {
			return fmt.Errorf("Authorization %q", a)
		}
		return nil
	})
	// chromedp's SetValue refuses "" and its Clear empties only the
	// attribute: empty the field as typing would.
	if _, err := eval[string](b, `document.getElementById("token").value = ""`); err != nil {
		t.Fatalf("empty the token field: %v", err)
	}
	if err := b.Do(30*time.Second, chromedp.Click(chromedp.CSS("#token-form button"))); err != nil {
		t.Fatalf("remove the admin token: %v", err)
	}
	waitFor(t, 30*time.Second, "no token on the workers request", func() error {
		if a, ok := b.Authorization(base + api.RouteWorkers); !ok || a != "" {
			return fmt.Errorf("Authorization %q", a)
		}
		return nil
	})
}

// saveScreenshot saves the whole page as a PNG at path.
func saveScreenshot(t *testing.T, b *browser, path string) {
	t.Helper()
	png, err := run(b, 60*time.Second, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot of the dashboard: %s (%d bytes)", path, len(png))
}

// waitEvents waits until the page's timeline shows an event of each kind.
func waitEvents(t *testing.T, b *browser, kinds ...string) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("the timeline showing %v", kinds), func() error {
		text, err := eval[string](b, `document.getElementById("events").innerText`)
		if err != nil {
			return err
		}
		for _, k := range kinds {
			if !strings.Contains(text, k) {
				return fmt.Errorf("no %q in the timeline: %q", k, text)
			}
		}
		return nil
	})
}
