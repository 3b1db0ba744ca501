package orchestrator_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/stacktest"
)

// ledger records every write the orchestrator acknowledged, so a test can
// check that each one is present exactly once afterwards.
type ledger struct {
	mu    sync.Mutex
	users map[string]bool // username → acknowledged
	max   uint64
}

func newLedger() *ledger { return &ledger{users: map[string]bool{}} }

// insertUser writes one user and records it when acknowledged (2xx).
func (l *ledger) insertUser(s *stacktest.Stack, name string) int {
	res, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert",
		Values: map[string]any{"username": name, "password": "p"}})
	if code/100 == 2 {
		l.mu.Lock()
		l.users[name] = true
		if res.Seq > l.max {
			l.max = res.Seq
		}
		l.mu.Unlock()
	}
	return code
}

// check reads the users table and fails unless every acknowledged user is
// there exactly once.
func (l *ledger) check(t *testing.T, s *stacktest.Stack) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	rows := s.Dump("users", l.max)
	seen := map[string]int{}
	for _, r := range rows {
		seen[fmt.Sprint(r["username"])]++
	}
	lost := 0
	for u := range l.users {
		if seen[u] != 1 {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged user %s present %d times", u, seen[u])
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes not present exactly once", lost, len(l.users))
	}
	t.Logf("all %d acknowledged writes present exactly once (%d rows)", len(l.users), len(rows))
}

// forEachBackend runs a test on every deployment: process+sqlite, and
// docker+postgres where a Docker engine runs.
func forEachBackend(t *testing.T, test func(t *testing.T, config string)) {
	for _, config := range stacktest.Backends() {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(config, "hcl/"), ".hcl"), func(t *testing.T) { test(t, config) })
	}
}
