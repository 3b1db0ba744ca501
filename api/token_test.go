package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
)

// authSeen is an orchestrator stand-in recording the Authorization header
// of each call by path, answering 401 to any call without one.
type authSeen struct {
	mu  sync.Mutex
	got map[string]string
}

func (a *authSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.got[r.URL.Path] = r.Header.Get("Authorization")
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") == "" {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"unauthorized: no Authorization header"}`))
		return
	}
	switch r.URL.Path {
	case RouteDBRead:
		w.Write([]byte(`{"rows":[],"seq":1}`))
	case RouteWorkerList:
		w.Write([]byte(`[1]`))
	default:
		w.Write([]byte(`{"seq":1,"rows_affected":0}`))
	}
}

func callAll(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Write(ctx, dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if _, err := c.Read(ctx, dbapi.ReadRequest{Table: "users"}); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if _, err := c.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if _, err := c.WorkerList(ctx); err != nil {
		t.Fatalf("WorkerList: %v", err)
	}
}

// WithToken is sent on every call; WithDBToken replaces it on the DB API's.
func TestTokens(t *testing.T) {
	a := &authSeen{got: map[string]string{}}
	srv := httptest.NewServer(a)
	defer srv.Close()

	callAll(t, NewClient(srv.URL, WithToken("tok-1")))
	for _, p := range []string{RouteDBWrite, RouteDBRead, RouteDBClear, RouteWorkerList} {
		if a.got[p] != "Bearer tok-1" {
			t.Errorf("WithToken: %s sent Authorization %q, want Bearer tok-1", p, a.got[p])
		}
	}

	callAll(t, NewClient(srv.URL, WithToken("adm"), WithDBToken("dbt")))
	for p, want := range map[string]string{RouteDBWrite: "Bearer dbt", RouteDBRead: "Bearer dbt",
		RouteDBClear: "Bearer dbt", RouteWorkerList: "Bearer adm"} {
		if a.got[p] != want {
			t.Errorf("WithToken+WithDBToken: %s sent Authorization %q, want %q", p, a.got[p], want)
		}
	}

	// No token: no header, and the 401 is ErrUnauthorized, not retried.
	_, err := NewClient(srv.URL).WorkerList(context.Background())
	if a.got[RouteWorkerList] != "" || !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrUnavailable) || StatusOf(err) != 401 {
		t.Errorf("no token: header %q, err %v, want none and a 401 ErrUnauthorized", a.got[RouteWorkerList], err)
	}
}
