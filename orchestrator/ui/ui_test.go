package ui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/orchestrator/ui"
)

// server mounts the dashboard the way the orchestrator's Handler does.
func server(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle(api.RouteUI, ui.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read GET %s: %v", url, err)
	}
	return resp, string(body)
}

func TestServesEmbeddedFiles(t *testing.T) {
	srv := server(t)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/ui/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/ui/", "text/html; charset=utf-8", `<script src="metrics.js" defer></script>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", `"rideshare_admin_token"`},
		{"/ui/metrics.js", "text/javascript; charset=utf-8", `window.rideshareMetrics =`},
		{"/ui/style.css", "text/css; charset=utf-8", "#charts"},
	} {
		resp, body := get(t, srv.URL+tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200: %s", tc.path, resp.StatusCode, body)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", tc.path, got, ui.ContentSecurityPolicy)
		}
		if !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
	}
}

// TestOffline: the page names no other origin (the SVG namespace is a
// name, not a download) and imports nothing.
func TestOffline(t *testing.T) {
	srv := server(t)
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/metrics.js", "/ui/style.css"} {
		_, body := get(t, srv.URL+path)
		body = strings.ReplaceAll(body, `"http://www.w3.org/2000/svg"`, "")
		for _, ext := range []string{"://", "@import", "import("} {
			if strings.Contains(body, ext) {
				t.Errorf("%s refers to %q: the dashboard must work offline", path, ext)
			}
		}
	}
}

func TestRedirectsBareRoute(t *testing.T) {
	srv := server(t)
	resp, _ := get(t, srv.URL+strings.TrimSuffix(api.RouteUI, "/"))
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		t.Fatalf("GET /ui: status %d, want a redirect", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != api.RouteUI {
		t.Fatalf("GET /ui: Location %q, want %q", loc, api.RouteUI)
	}
}

func TestUnknownFileIsJSON404(t *testing.T) {
	srv := server(t)
	for _, path := range []string{"/ui/nope.js", "/ui/static/app.js", "/ui/sub/"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404: %s", path, resp.StatusCode, body)
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Errorf("GET %s: body %q is not a JSON error", path, body)
		}
	}
}

func TestOnlyReads(t *testing.T) {
	srv := server(t)
	resp, err := http.Post(srv.URL+api.RouteUI, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ui/: status %d, want 405", resp.StatusCode)
	}
	head, err := http.Head(srv.URL + api.RouteUI)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /ui/: status %d, want 200", head.StatusCode)
	}
}
