package orchestrator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
)

const (
	testAdminToken = "adm-7f3c9e1b"
	testDBToken    = "db-52a8d04c"
)

// unconnected is an orchestrator with no broker and no election session:
// a request the token check lets through reaches the real handler, which
// answers without a backend (400 for a bad body, 405 for a wrong method,
// 503 for a worker listing) — never 401.
func unconnected(adminToken, dbToken string) *Orchestrator {
	log := hclog.NewNullLogger()
	o := &Orchestrator{
		opts:   Options{AdminToken: adminToken, DBToken: dbToken},
		log:    log,
		sup:    newSupervisor(nil, nil, 1, log, nil, nil),
		events: newJournal(0),
	}
	o.metrics = newMetrics(o, NewPluginRestarts())
	return o
}

// serve sends one request to h with the Authorization header auth ("":
// none) and a malformed JSON body, so a DB API handler that is reached
// answers 400 at once.
func serve(h http.Handler, method, path, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader("{not json"))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTokensGuardRoutesByClass(t *testing.T) {
	h := unconnected(testAdminToken, testDBToken).Handler()
	admin, db := "Bearer "+testAdminToken, "Bearer "+testDBToken
	// passed is the status of a request the token check let through.
	const passed = 0
	for _, c := range []struct {
		name         string
		method, path string
		auth         string
		want         int // passed: anything but 401
	}{
		{"db write, no header", "POST", api.RouteDBWrite, "", 401},
		{"db write, wrong scheme", "POST", api.RouteDBWrite, "Basic ZGI6c2VjcmV0", 401},
		{"db write, token without scheme", "POST", api.RouteDBWrite, testDBToken, 401},
		{"db write, empty bearer", "POST", api.RouteDBWrite, "Bearer ", 401},
		{"db write, wrong token", "POST", api.RouteDBWrite, "Bearer db-00000000", 401},
		{"db write, token with a suffix", "POST", api.RouteDBWrite, db + "x", 401},
		{"db write, admin token", "POST", api.RouteDBWrite, admin, 401},
		{"db write, right token", "POST", api.RouteDBWrite, db, 400},
		{"db write, scheme in lower case", "POST", api.RouteDBWrite, "bearer " + testDBToken, 400},
		{"db read, no header", "POST", api.RouteDBRead, "", 401},
		{"db read, right token", "POST", api.RouteDBRead, db, 400},
		{"db clear, admin token", "POST", api.RouteDBClear, admin, 401},
		{"db clear, right token, wrong method", "GET", api.RouteDBClear, db, 405},
		{"unknown db path, no header", "POST", "/api/v1/db/drop", "", 401},
		{"unknown db path, right token", "POST", "/api/v1/db/drop", db, 404},
		{"crash master, no header", "POST", api.RouteCrashMaster, "", 401},
		{"crash master, db token", "POST", api.RouteCrashMaster, db, 401},
		{"crash master, right token, wrong method", "GET", api.RouteCrashMaster, admin, 405},
		{"crash slave, wrong token", "POST", api.RouteCrashSlave, "Bearer adm-00000000", 401},
		{"worker list, db token", "GET", api.RouteWorkerList, db, 401},
		{"worker list, right token", "GET", api.RouteWorkerList, admin, 503},
		{"workers, no header", "GET", api.RouteWorkers, "", 401},
		{"workers, right token", "GET", api.RouteWorkers, admin, 503},
		{"switchover, no header", "POST", api.RouteSwitchover, "", 401},
		{"switchover, db token", "POST", api.RouteSwitchover, db, 401},
		{"switchover, right token", "POST", api.RouteSwitchover, admin, 400},
		{"healthz, open", "GET", api.RouteHealthz, "", 200},
		{"livez, open", "GET", api.RouteLivez, "", 200},
		{"readyz, open", "GET", api.RouteReadyz, "", 503},
		{"readyz, open to a wrong token", "GET", api.RouteReadyz, "Bearer nope", 503},
		// Not routes of this branch yet; whoever adds them must keep them
		// open (they answer 404 here, never 401).
		{"metrics, open", "GET", api.RouteMetrics, "", passed},
		{"dashboard files, open", "GET", api.RouteUI + "index.html", "", passed},
	} {
		rec := serve(h, c.method, c.path, c.auth)
		switch {
		case c.want == passed && rec.Code == 401, c.want != passed && rec.Code != c.want:
			t.Errorf("%s: %s %s with %q: status %d (%s), want %d", c.name, c.method, c.path, c.auth, rec.Code, rec.Body, c.want)
			continue
		case rec.Code != 401:
			if got := rec.Header().Get("WWW-Authenticate"); got != "" {
				t.Errorf("%s: a %d carries WWW-Authenticate %q", c.name, rec.Code, got)
			}
			continue
		}
		checkUnauthorized(t, c.name, rec, c.auth)
	}
}

// checkUnauthorized checks a 401: a Bearer challenge, a JSON {"error":…}
// body, and nothing of the credentials sent (or of any token) in it.
func checkUnauthorized(t *testing.T, name string, rec *httptest.ResponseRecorder, sent string) {
	t.Helper()
	if ch := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") {
		t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", name, ch)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", name, ct)
	}
	var eb dbapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || !strings.HasPrefix(eb.Error, "unauthorized: ") {
		t.Errorf("%s: body %q is not {\"error\":\"unauthorized: …\"}", name, rec.Body)
	}
	secrets := []string{testAdminToken, testDBToken, "ZGI6c2VjcmV0", "00000000"}
	if _, cred, ok := strings.Cut(sent, " "); ok && strings.TrimSpace(cred) != "" {
		secrets = append(secrets, strings.TrimSpace(cred))
	}
	for _, s := range secrets {
		if strings.Contains(rec.Body.String(), s) || strings.Contains(rec.Header().Get("WWW-Authenticate"), s) {
			t.Errorf("%s: the 401 echoes %q: %s", name, s, rec.Body)
		}
	}
}

// With no tokens configured, every route is open, as before tokens existed.
func TestNoTokensIsOpen(t *testing.T) {
	h := unconnected("", "").Handler()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", api.RouteDBWrite, 400},
		{"POST", api.RouteDBRead, 400},
		{"GET", api.RouteDBClear, 405},
		{"GET", api.RouteWorkers, 503},
		{"GET", api.RouteWorkerList, 503},
		{"GET", api.RouteCrashMaster, 405},
		{"GET", api.RouteLivez, 200},
	} {
		if rec := serve(h, c.method, c.path, ""); rec.Code != c.want {
			t.Errorf("%s %s without tokens: status %d (%s), want %d", c.method, c.path, rec.Code, rec.Body, c.want)
		}
	}
}

// A refused request never reaches the guarded handler, so it can change
// nothing; only one token guards each class.
func TestRefusedRequestNeverReachesHandler(t *testing.T) {
	o := unconnected(testAdminToken, testDBToken)
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })
	for _, auth := range []string{"", "Bearer x", "Bearer " + testAdminToken, "Basic " + testDBToken} {
		if rec := serve(o.db(next), "POST", api.RouteDBWrite, auth); rec.Code != 401 {
			t.Errorf("db route with %q: status %d, want 401", auth, rec.Code)
		}
	}
	if reached != 0 {
		t.Fatalf("the DB handler ran %d times for refused requests", reached)
	}
	serve(o.db(next), "POST", api.RouteDBWrite, "Bearer "+testDBToken)
	serve(o.admin(next), "GET", api.RouteWorkers, "Bearer "+testAdminToken)
	if reached != 2 {
		t.Fatalf("the handler ran %d times for 2 requests with the right tokens, want 2", reached)
	}
}
