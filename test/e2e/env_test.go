// Package e2e drives the RideShare services through the local load balancer
// against the orchestrator's DB API (docs/api.md): users and rides run in
// this process, the data goes through the real DBaaS.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/gateway"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/rides"
	"github.com/rideshare/dbaas/users"
)

// ridesOrigin is the rides instance's public address in these tests.
const ridesOrigin = "http://203.0.113.7"

// env is one deployment of the services: gateway → users, rides → DB API.
type env struct {
	t        *testing.T
	gateway  string // the load balancer: every client request goes here
	usersURL string // the users service itself (its clear and _count, which the LB sends to rides)
	ridesURL string // the rides service itself (its /metrics)
	usersSrv *httptest.Server
	db       *api.Client // a separate client, to inspect tables directly
	usersDB  *api.Client // the services' own clients: their seqs are what
	ridesDB  *api.Client // a direct read must reflect

	mu      sync.Mutex
	origins []seen // requests that reached the users service
}

// seen is one request as the users service received it.
type seen struct {
	method, path, origin, forwardedFor string
}

// newEnv starts the services on the orchestrator at orchestratorURL; opts
// (e.g. api.WithToken) go to every DB API client.
func newEnv(t *testing.T, orchestratorURL string, opts ...api.Option) *env {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Name: "e2e", Level: hclog.Warn, Output: testWriter{t}})
	e := &env{t: t, db: api.NewClient(orchestratorURL, opts...)}

	var gw http.Handler
	gwSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gw.ServeHTTP(w, r) }))
	t.Cleanup(gwSrv.Close)
	e.gateway = gwSrv.URL

	e.usersDB = api.NewClient(orchestratorURL, append([]api.Option{api.WithLogger(log)}, opts...)...)
	e.ridesDB = api.NewClient(orchestratorURL, append([]api.Option{api.WithLogger(log)}, opts...)...)
	us := users.New(users.Config{DB: e.usersDB, Log: log.Named("users")})
	e.usersSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.origins = append(e.origins, seen{r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("X-Forwarded-For")})
		e.mu.Unlock()
		us.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(e.usersSrv.Close)
	e.usersURL = e.usersSrv.URL

	rs := rides.New(rides.Config{
		DB:       e.ridesDB,
		UsersURL: e.gateway,
		Origin:   ridesOrigin,
		Log:      log.Named("rides"),
	})
	ridesSrv := httptest.NewServer(rs.Handler())
	t.Cleanup(ridesSrv.Close)
	e.ridesURL = ridesSrv.URL

	g, err := gateway.New([]config.Route{
		{Path: "/api/v1/users", Target: e.usersURL},
		{Path: "/", Target: ridesSrv.URL},
	}, log.Named("gateway"))
	if err != nil {
		t.Fatal(err)
	}
	gw = g
	return e
}

// reset empties both services' data and zeroes both counts.
func (e *env) reset(t *testing.T) {
	t.Helper()
	e.call(t, "POST", e.gateway+api.RouteDBClear, nil).want(t, 200, `{}`)
	e.call(t, "POST", e.usersURL+api.RouteDBClear, nil).want(t, 200, `{}`)
	e.call(t, "DELETE", e.gateway+"/api/v1/_count", nil).want(t, 200, `{}`)
	e.call(t, "DELETE", e.usersURL+"/api/v1/_count", nil).want(t, 200, `{}`)
	e.mu.Lock()
	e.origins = nil
	e.mu.Unlock()
}

// answer is one HTTP answer.
type answer struct {
	method, url string
	status      int
	header      http.Header
	body        []byte
}

// call sends body (nil, a string sent verbatim, or a value encoded as JSON).
func (e *env) call(t *testing.T, method, url string, body any) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, url, err)
	}
	return answer{method, url, resp.StatusCode, resp.Header, data}
}

// gw calls path through the load balancer.
func (e *env) gw(t *testing.T, method, path string, body any) answer {
	t.Helper()
	return e.call(t, method, e.gateway+path, body)
}

// want checks the status and, unless wantJSON is "", that the body is that JSON.
func (a answer) want(t *testing.T, status int, wantJSON string) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s %s: status %d (body %s), want %d", a.method, a.url, a.status, a.body, status)
	}
	if status == http.StatusNoContent {
		if len(a.body) != 0 {
			t.Fatalf("%s %s: 204 with a body %q", a.method, a.url, a.body)
		}
		return a
	}
	if wantJSON != "" && !jsonEqual(a.body, []byte(wantJSON)) {
		t.Fatalf("%s %s: body %s, want %s", a.method, a.url, bytes.TrimSpace(a.body), wantJSON)
	}
	return a
}

// wantError checks the status and a JSON {"error":…} body containing substr.
func (a answer) wantError(t *testing.T, status int, substr string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s %s: status %d (body %s), want %d", a.method, a.url, a.status, a.body, status)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: error Content-Type %q, want application/json", a.method, a.url, ct)
	}
	var eb dbapi.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil || eb.Error == "" {
		t.Fatalf("%s %s: error body %q is not {\"error\":…}", a.method, a.url, a.body)
	}
	if !strings.Contains(strings.ToLower(eb.Error), strings.ToLower(substr)) {
		t.Errorf("%s %s: error %q does not mention %q", a.method, a.url, eb.Error, substr)
	}
}

// decode parses the body into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("%s %s: body %q: %v", a.method, a.url, a.body, err)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
