package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/internal/config"
)

// echo is a target that answers 418 with what it received.
func echo(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Target", name)
		w.Header().Set("WWW-Authenticate", `Bearer realm="db"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		json.NewEncoder(w).Encode(map[string]any{
			"target": name, "method": r.Method, "uri": r.RequestURI, "host": r.Host,
			"origin": r.Header.Get("Origin"), "custom": r.Header.Get("X-Custom"),
			"xff": r.Header.Get("X-Forwarded-For"), "body": string(body),
			"authorization": r.Header.Get("Authorization"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func serve(t *testing.T, routes ...config.Route) *httptest.Server {
	t.Helper()
	g, err := New(routes, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func TestLongestPrefixWinsAndRequestPassesUnchanged(t *testing.T) {
	users, rides := echo(t, "users"), echo(t, "rides")
	gw := serve(t,
		config.Route{Path: "/", Target: rides.URL},
		config.Route{Path: "/api/v1/users", Target: users.URL},
	)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/v1/users", "users"},
		{"DELETE", "/api/v1/users/bob", "users"},
		{"GET", "/api/v1/usersx", "rides"},
		{"POST", "/api/v1/rides?source=1&destination=2", "rides"},
		{"GET", "/api/v1/_count", "rides"},
	} {
		req, _ := http.NewRequest(tc.method, gw.URL+tc.path, strings.NewReader(`{"k":"v"}`))
		req.Host = "rideshare.example"
		req.Header.Set("Origin", "rides")
		req.Header.Set("X-Custom", "kept")
		req.Header.Set("X-Forwarded-For", "10.0.0.9")
		req.Header.Set("Authorization", "Bearer t0k3n") // an orchestrator's token behind a gateway
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Target") != tc.want {
			t.Errorf("%s %s: status %d target header %q, want 418 from %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("X-Target"), tc.want)
		}
		if ch := resp.Header.Get("WWW-Authenticate"); ch != `Bearer realm="db"` {
			t.Errorf("%s %s: WWW-Authenticate %q did not come back", tc.method, tc.path, ch)
		}
		want := map[string]string{
			"target": tc.want, "method": tc.method, "uri": tc.path, "host": "rideshare.example",
			"origin": "rides", "custom": "kept", "xff": "10.0.0.9, 127.0.0.1", "body": `{"k":"v"}`,
			"authorization": "Bearer t0k3n",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s: target saw %s = %q, want %q", tc.method, tc.path, k, got[k], v)
			}
		}
	}
}

func TestDownTargetIs502NamingIt(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	gw := serve(t, config.Route{Path: "/api/v1/users", Target: dead})
	resp, err := http.Get(gw.URL + "/api/v1/users")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("502 body is not JSON: %v", err)
	}
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body.Error, dead) {
		t.Errorf("got %d %q, want 502 naming %s", resp.StatusCode, body.Error, dead)
	}
}

func TestNoRouteIs404AndHealthzIsLocal(t *testing.T) {
	gw := serve(t, config.Route{Path: "/api/v1/users", Target: "http://127.0.0.1:1"})
	resp, err := http.Get(gw.URL + "/api/v1/rides")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("unrouted path: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Get(gw.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
}

func TestBadRoutesAreRefused(t *testing.T) {
	for _, routes := range [][]config.Route{
		nil,
		{{Path: "api", Target: "http://127.0.0.1:1"}},
		{{Path: "/", Target: "127.0.0.1:1"}},
		{{Path: "/", Target: "http://a"}, {Path: "/", Target: "http://b"}},
	} {
		if _, err := New(routes, nil); err == nil {
			t.Errorf("routes %v accepted", routes)
		}
	}
}
