package stacktest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
)

// Ledger records every write the orchestrator acknowledged, so a test can
// check each one is present exactly once afterwards.
type Ledger struct {
	mu    sync.Mutex
	users map[string]bool
	max   uint64 // highest acknowledged seq: reads ask for it (min_seq)
}

// NewLedger is an empty ledger.
func NewLedger() *Ledger { return &Ledger{users: map[string]bool{}} }

// Insert writes one user and records it when the answer is 2xx.
func (l *Ledger) Insert(s *Stack, name string) int {
	res, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert",
		Values: map[string]any{"username": name, "password": "p"}})
	if code/100 == 2 {
		l.mu.Lock()
		l.users[name] = true
		l.max = max(l.max, res.Seq)
		l.mu.Unlock()
	}
	return code
}

// Acknowledged counts the acknowledged writes and their highest seq.
func (l *Ledger) Acknowledged() (n int, maxSeq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.users), l.max
}

// Check reads the users table (at least at the highest acknowledged seq)
// and fails unless every acknowledged user is in it exactly once.
func (l *Ledger) Check(t testing.TB, s *Stack) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	rows := s.Dump("users", l.max)
	seen := map[string]int{}
	for _, r := range rows {
		seen[fmt.Sprint(r["username"])]++
	}
	bad := 0
	for u := range l.users {
		if seen[u] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("acknowledged user %s present %d times", u, seen[u])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d acknowledged writes not present exactly once", bad, len(l.users))
	}
	t.Logf("all %d acknowledged writes present exactly once (%d rows, max seq %d)", len(l.users), len(rows), l.max)
}

// Writers keeps n goroutines inserting users until the returned stop is
// called; stop reports how many writes were acknowledged and how many failed.
func Writers(s *Stack, l *Ledger, prefix string, n int) (stop func() (ok, failed int)) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	var mu sync.Mutex
	var okN, failN int
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				code := l.Insert(s, fmt.Sprintf("%s-%d-%d", prefix, g, i))
				mu.Lock()
				if code/100 == 2 {
					okN++
				} else {
					failN++
				}
				mu.Unlock()
			}
		}(g)
	}
	return func() (int, int) {
		close(done)
		wg.Wait()
		return okN, failN
	}
}
