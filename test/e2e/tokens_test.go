package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// A stack with tokens refuses a DB write without the DB token and stores
// nothing of it, while the services, sending the DB token, work through it.
func TestServicesWithDBToken(t *testing.T) {
	const adminTok, dbTok = "e2e-admin-91c2", "e2e-db-5f0e"
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, Vars: []string{"admin_token=" + adminTok, "db_token=" + dbTok}})
	if s.Config.Orchestrator.DBToken != dbTok || s.Config.Orchestrator.AdminToken != adminTok {
		t.Fatalf("the stack's config has tokens %q/%q", s.Config.Orchestrator.AdminToken, s.Config.Orchestrator.DBToken)
	}
	e := newEnv(t, s.URL, api.WithToken(dbTok))
	e.reset(t)
	e.addUser(t, "alice")
	e.addRide(t, "alice", future, 1, 2)

	ctx := context.Background()
	intruder := dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert,
		Values: map[string]any{"username": "mallory", "password": password("mallory")}}
	for name, c := range map[string]*api.Client{
		"no token":        api.NewClient(s.URL, api.WithAttempts(1)),
		"the admin token": api.NewClient(s.URL, api.WithAttempts(1), api.WithToken(adminTok)),
		"a wrong token":   api.NewClient(s.URL, api.WithAttempts(1), api.WithToken("e2e-db-5f0f")),
	} {
		if _, err := c.Write(ctx, intruder); !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("write with %s: %v, want 401", name, err)
		}
		if _, err := c.Clear(ctx); !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("clear with %s: %v, want 401", name, err)
		}
	}
	if code := s.Do(http.MethodGet, api.RouteWorkers, nil, nil); code != http.StatusOK {
		t.Errorf("the stack's own helpers (admin token): GET workers %d", code)
	}
	if n := e.rows(t, "users", map[string]any{"username": "mallory"}); n != 0 {
		t.Errorf("a refused write stored %d rows", n)
	}
	if n := e.rows(t, "users", nil); n != 1 {
		t.Errorf("users after refused clears: %d rows, want alice", n)
	}
	if n := e.rows(t, "rides", nil); n != 1 {
		t.Errorf("rides after refused clears: %d rows, want 1", n)
	}
}
