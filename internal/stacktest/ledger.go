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
	rides map[string]bool   // by created_by: a ride applied twice shows as two rows
	max   uint64            // highest acknowledged seq: reads ask for it (min_seq)
	seqs  map[string]uint64 // users by name: the seq of each acknowledged insert
}

// DB is what a ledger writes through and a Load reads from: a Stack (one
// orchestrator), or a client of several orchestrators.
type DB interface {
	Write(dbapi.WriteRequest) (dbapi.WriteResult, int)
	Read(dbapi.ReadRequest) (dbapi.ReadResult, int)
}

// NewLedger is an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{users: map[string]bool{}, rides: map[string]bool{}, seqs: map[string]uint64{}}
}

// InsertRide writes one ride created by a name used once, and records it
// when the answer is 2xx. Rides get a generated id, so unlike a user (whose
// name is the key) a ride applied twice would be two rows: Check sees it.
func (l *Ledger) InsertRide(s DB, by string) int {
	res, code := s.Write(dbapi.WriteRequest{Table: "rides", Op: "insert", Values: map[string]any{
		"created_by": by, "timestamp": "01-01-2030:00-00-10", "source": 1, "destination": 2}})
	return l.record(l.rides, by, res.Seq, code)
}

// Insert writes one user and records it when the answer is 2xx.
func (l *Ledger) Insert(s DB, name string) int {
	res, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert",
		Values: map[string]any{"username": name, "password": "p"}})
	if l.record(l.users, name, res.Seq, code)/100 == 2 {
		l.mu.Lock()
		l.seqs[name] = res.Seq
		l.mu.Unlock()
	}
	return code
}

// UserSeqs are the acknowledged users and the seq of each insert.
func (l *Ledger) UserSeqs() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]uint64, len(l.seqs))
	for k, v := range l.seqs {
		out[k] = v
	}
	return out
}

// record notes key in acked when the write was acknowledged (2xx).
func (l *Ledger) record(acked map[string]bool, key string, seq uint64, code int) int {
	if code/100 == 2 {
		l.mu.Lock()
		acked[key] = true
		l.max = max(l.max, seq)
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

// Check reads the users and rides tables (at least at the highest
// acknowledged seq) and fails unless every acknowledged user and ride is in
// them exactly once, and no ride of the ledger's writers is there twice.
func (l *Ledger) Check(t testing.TB, s *Stack) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	users := s.Dump("users", l.max)
	bad := checkOnce(t, "user", users, "username", l.users)
	if len(l.rides) > 0 {
		bad += checkOnce(t, "ride of", s.Dump("rides", l.max), "created_by", l.rides)
	}
	if bad > 0 {
		t.Fatalf("%d of %d acknowledged writes not present exactly once", bad, len(l.users)+len(l.rides))
	}
	t.Logf("all %d acknowledged writes present exactly once (%d users, %d rides acknowledged; max seq %d)",
		len(l.users)+len(l.rides), len(l.users), len(l.rides), l.max)
}

// checkOnce counts the rows by column and reports every acknowledged value
// not present exactly once.
func checkOnce(t testing.TB, what string, rows []map[string]any, column string, acked map[string]bool) int {
	t.Helper()
	seen := map[string]int{}
	for _, r := range rows {
		seen[fmt.Sprint(r[column])]++
	}
	bad := 0
	for v := range acked {
		if seen[v] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("acknowledged %s %s present %d times", what, v, seen[v])
			}
		}
	}
	return bad
}

// Writers keeps n goroutines inserting users until the returned stop is
// called; stop reports how many writes were acknowledged and how many failed.
func Writers(s *Stack, l *Ledger, prefix string, n int) (stop func() (ok, failed int)) {
	return writers(n, func(g, i int) int { return l.Insert(s, fmt.Sprintf("%s-%d-%d", prefix, g, i)) })
}

// RideWriters is Writers inserting rides (Ledger.InsertRide).
func RideWriters(s *Stack, l *Ledger, prefix string, n int) (stop func() (ok, failed int)) {
	return writers(n, func(g, i int) int { return l.InsertRide(s, fmt.Sprintf("%s-%d-%d", prefix, g, i)) })
}

// writers runs write(g, i) in n goroutines g, i = 0, 1, … until stopped.
func writers(n int, write func(g, i int) int) (stop func() (ok, failed int)) {
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
				code := write(g, i)
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
