package orchestrator_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/stacktest"
)

func TestWriteThenReadYourWrites(t *testing.T) { forEachBackend(t, testWriteThenReadYourWrites) }

func testWriteThenReadYourWrites(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config})
	res, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": "alice", "password": "x"}})
	if code != 200 || res.Seq == 0 {
		t.Fatalf("insert user: %d %+v", code, res)
	}
	ride, code := s.Write(dbapi.WriteRequest{Table: "rides", Op: "insert", Values: map[string]any{
		"created_by": "alice", "timestamp": "01-01-2030:00-00-10", "source": 1, "destination": 2}})
	if code != 200 || ride.ID == nil || *ride.ID != 1 {
		t.Fatalf("insert ride: %d %+v, want generated id 1", code, ride)
	}
	got, code := s.Read(dbapi.ReadRequest{Table: "rides", Where: map[string]any{"ride_id": *ride.ID}, MinSeq: ride.Seq})
	if code != 200 || len(got.Rows) != 1 || got.Rows[0]["created_by"] != "alice" || got.Seq < ride.Seq {
		t.Fatalf("read own ride: %d %+v", code, got)
	}
	// A duplicate key is a 409 and changes nothing.
	if _, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": "alice", "password": "y"}}); code != 409 {
		t.Fatalf("duplicate insert: status %d, want 409", code)
	}
	users, _ := s.Read(dbapi.ReadRequest{Table: "users", MinSeq: ride.Seq})
	if len(users.Rows) != 1 || users.Rows[0]["password"] != "x" {
		t.Fatalf("users after duplicate: %+v", users.Rows)
	}
	// A min_seq no replica reaches ends in a clear 503, not a hang.
	var e dbapi.ErrorBody
	if code := s.Do("POST", api.RouteDBRead, dbapi.ReadRequest{Table: "users", MinSeq: 1 << 40}, &e); code != 503 || e.Error == "" {
		t.Fatalf("unreachable min_seq: %d %q, want 503 with a message", code, e.Error)
	}
	// Clear empties every table, replicated like any write.
	cleared, err := s.API().Clear(context.Background())
	if err != nil {
		t.Fatalf("clear: %v", err)
	}
	for _, table := range []string{"users", "rides", "ride_users"} {
		if rows := s.Dump(table, cleared.Seq); len(rows) != 0 {
			t.Fatalf("%s after clear: %v", table, rows)
		}
	}
}

func TestReadsRoundRobinOverSlaves(t *testing.T) { forEachBackend(t, testReadsRoundRobinOverSlaves) }

func testReadsRoundRobinOverSlaves(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	by := map[string]int{}
	for i := 0; i < 100; i++ {
		res, code := s.Read(dbapi.ReadRequest{Table: "users"})
		if code != 200 {
			t.Fatalf("read %d: status %d", i, code)
		}
		by[res.Worker]++
	}
	if len(by) != 2 {
		t.Fatalf("100 reads answered by %v, want both slaves", by)
	}
	master := ""
	for _, w := range s.Workers() {
		if w.Role == "master" {
			master = w.ID
		}
	}
	if by[master] != 0 {
		t.Fatalf("the master answered %d reads", by[master])
	}
	t.Logf("answers per slave: %v", by)
}

// mixedWrites sends n random inserts, updates and deletes over users and
// rides, from a few goroutines.
func mixedWrites(t *testing.T, s *stacktest.Stack, n, workers int) uint64 {
	var mu sync.Mutex
	var maxSeq uint64
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := g; i < n; i += workers {
				user := fmt.Sprintf("u%d", r.Intn(n/4+1))
				var req dbapi.WriteRequest
				switch i % 5 {
				case 0, 1:
					req = dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": user, "password": fmt.Sprint(i)}}
				case 2:
					req = dbapi.WriteRequest{Table: "users", Op: "update", Values: map[string]any{"password": fmt.Sprint("p", i)}, Where: map[string]any{"username": user}}
				case 3:
					req = dbapi.WriteRequest{Table: "rides", Op: "insert", Values: map[string]any{"created_by": user,
						"timestamp": "01-01-2030:00-00-10", "source": r.Intn(198) + 1, "destination": r.Intn(198) + 1}}
				case 4:
					req = dbapi.WriteRequest{Table: "users", Op: "delete", Where: map[string]any{"username": user}}
				}
				res, code := s.Write(req)
				if code != 200 && code != 409 {
					t.Errorf("write %d (%s %s): status %d", i, req.Op, req.Table, code)
					return
				}
				mu.Lock()
				if res.Seq > maxSeq {
					maxSeq = res.Seq
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	return maxSeq
}

func TestReplicasConverge(t *testing.T) { forEachBackend(t, testReplicasConverge) }

func testReplicasConverge(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	// Enough writers to keep the master's batches and the followers' apply
	// batches large: followers apply many entries per transaction.
	const writes = 20000
	start := time.Now()
	mixedWrites(t, s, writes, 32)
	took := time.Since(start)
	h := s.WaitConverged(60 * time.Second)
	if len(s.Hashes()) != 3 {
		t.Fatalf("want 3 replicas")
	}
	t.Logf("3 replicas converged after %d mixed writes (%.0f writes/s): %s", writes, writes/took.Seconds(), h)
}

func TestLateJoinerCatchesUpBeforeServing(t *testing.T) {
	forEachBackend(t, testLateJoinerCatchesUpBeforeServing)
}

func testLateJoinerCatchesUpBeforeServing(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 1})
	head := mixedWrites(t, s, 5000, 16)
	before := map[string]bool{}
	for _, w := range s.Workers() {
		before[w.ID] = true
	}
	// Reads run while a new slave joins: any answer from the newcomer must
	// already include every write acknowledged before it started.
	stop := make(chan struct{})
	var newcomerAnswers, early int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, code := s.Read(dbapi.ReadRequest{Table: "users", Columns: []string{"username"}, Limit: 1})
			if code == 200 && !before[res.Worker] {
				newcomerAnswers++
				if res.Seq < head {
					early++
				}
			}
		}
	}()
	s.Do("POST", api.RouteCrashSlave, nil, nil) // the replacement is the late joiner
	s.WaitShape(1, 60*time.Second)
	h := s.WaitConverged(60 * time.Second)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if early > 0 {
		t.Fatalf("the late joiner answered %d reads before it had caught up to seq %d", early, head)
	}
	if newcomerAnswers == 0 {
		t.Fatalf("the late joiner never answered a read")
	}
	t.Logf("late joiner converged (%s) and answered %d reads, none before seq %d", h, newcomerAnswers, head)
}

// The log is the database: a whole new deployment — new workers, new data
// dir, a fresh ZooKeeper root whose epoch counter starts again at 0 — reads
// every acknowledged write back from syncQ, and its first master still
// fences above every epoch already in the log.
func TestFreshDeploymentReplaysTheLog(t *testing.T) {
	first := stacktest.Start(t, stacktest.Options{Slaves: 1})
	l := stacktest.NewLedger()
	for i := 0; i < 100; i++ {
		l.Insert(first, fmt.Sprintf("gen1-%d", i))
	}
	first.Do("POST", api.RouteCrashMaster, nil, nil) // epoch 2 enters the log
	waitWrite(t, first, 20*time.Second)
	for i := 0; i < 100; i++ {
		l.Insert(first, fmt.Sprintf("gen1b-%d", i))
	}
	first.Stop()

	second := stacktest.Start(t, stacktest.Options{Slaves: 1, KeepLog: true})
	for i := 0; i < 50; i++ {
		if code := l.Insert(second, fmt.Sprintf("gen2-%d", i)); code != 200 {
			t.Fatalf("write on the new deployment: %d", code)
		}
	}
	l.Check(t, second)
	second.WaitConverged(30 * time.Second)
}
