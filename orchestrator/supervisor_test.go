package orchestrator_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/stacktest"
)

func master(t *testing.T, s *stacktest.Stack) api.WorkerInfo {
	t.Helper()
	m, ok := findMaster(s)
	if !ok {
		t.Fatalf("no master in %+v", s.Workers())
	}
	return m
}

func findMaster(s *stacktest.Stack) (api.WorkerInfo, bool) {
	for _, w := range s.Workers() {
		if w.Role == "master" {
			return w, true
		}
	}
	return api.WorkerInfo{}, false
}

func slaves(s *stacktest.Stack) []api.WorkerInfo {
	var out []api.WorkerInfo
	for _, w := range s.Workers() {
		if w.Role == "slave" {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

func waitWrite(t *testing.T, s *stacktest.Stack, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for i := 0; time.Since(start) < within; i++ {
		_, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert",
			Values: map[string]any{"username": fmt.Sprintf("probe-%d-%d", start.UnixNano(), i), "password": "p"}})
		if code == 200 {
			return time.Since(start)
		}
	}
	t.Fatalf("no write succeeded within %s", within)
	return 0
}

func TestCrashSlaveReplacesHighestPid(t *testing.T) {
	forEachBackend(t, testCrashSlaveReplacesHighestPid)
}

func testCrashSlaveReplacesHighestPid(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 1})
	sl := slaves(s)
	var pids []string
	if code := s.Do("POST", api.RouteCrashSlave, nil, &pids); code != 200 || len(pids) != 1 || pids[0] != strconv.Itoa(sl[len(sl)-1].PID) {
		t.Fatalf("crash/slave: %d %v, want [\"%d\"]", code, pids, sl[len(sl)-1].PID)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var list []int
		s.Do("GET", api.RouteWorkerList, nil, &list)
		if len(list) == 2 && !containsPid(list, sl[0].PID) && sort.IntsAreSorted(list) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker/list = %v, want 2 workers without pid %d", list, sl[0].PID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.WaitShape(1, 15*time.Second)
}

func containsPid(list []int, pid int) bool {
	for _, p := range list {
		if p == pid {
			return true
		}
	}
	return false
}

// failover kills the master (through the API or with kill -9) while
// writers run, and checks the lowest-pid slave takes over, writes work, no
// acknowledged write is lost and the shape comes back.
func failover(t *testing.T, config string, viaAPI bool) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "w", 4)
	time.Sleep(500 * time.Millisecond)
	old := master(t, s)
	lowest := slaves(s)[0]
	if viaAPI {
		var pids []string
		if code := s.Do("POST", api.RouteCrashMaster, nil, &pids); code != 200 || len(pids) != 1 || pids[0] != strconv.Itoa(old.PID) {
			t.Fatalf("crash/master: %d %v, want [\"%d\"]", code, pids, old.PID)
		}
	} else if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := waitWrite(t, s, 20*time.Second)
	t.Logf("first successful write %s after the master died", took)
	time.Sleep(time.Second)
	ok, failed := stop()
	t.Logf("writers: %d acknowledged, %d failed during failover", ok, failed)
	s.WaitShape(2, 20*time.Second)
	if m := master(t, s); m.ID != lowest.ID {
		t.Fatalf("new master is %s (pid %d), want the lowest-pid former slave %s (pid %d)", m.ID, m.PID, lowest.ID, lowest.PID)
	}
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}

func TestCrashMasterAPIElectsLowestPid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, config string) { failover(t, config, true) })
}
func TestKill9MasterElectsLowestPid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, config string) { failover(t, config, false) })
}

func TestKill9SlaveIsReplaced(t *testing.T) { forEachBackend(t, testKill9SlaveIsReplaced) }

func testKill9SlaveIsReplaced(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	victim := slaves(s)[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ws := s.Workers()
		gone := true
		for _, w := range ws {
			if w.PID == victim.PID {
				gone = false
			}
		}
		if gone && len(ws) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slave %d not replaced: %+v", victim.PID, ws)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.WaitShape(2, 15*time.Second)
}

func TestOrchestratorRestartAdoptsWorkers(t *testing.T) {
	forEachBackend(t, testOrchestratorRestartAdoptsWorkers)
}

func testOrchestratorRestartAdoptsWorkers(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 1, KeepWorkers: true})
	l := stacktest.NewLedger()
	for i := 0; i < 50; i++ {
		l.Insert(s, fmt.Sprintf("before-%d", i))
	}
	before := s.Workers()
	s.StopOrchestrator()
	for _, w := range before {
		if err := syscall.Kill(w.PID, 0); err != nil {
			t.Fatalf("worker %d died with the orchestrator: %v", w.PID, err)
		}
	}
	s.StartOrchestrator(true)
	s.WaitShape(1, 15*time.Second)
	after := s.Workers()
	if len(after) != len(before) || after[0].PID != before[0].PID || after[1].PID != before[1].PID {
		t.Fatalf("restarted orchestrator did not adopt the workers: before %+v after %+v", before, after)
	}
	for i := 0; i < 50; i++ {
		if code := l.Insert(s, fmt.Sprintf("after-%d", i)); code != 200 {
			t.Fatalf("write after restart: %d", code)
		}
	}
	l.Check(t, s)
}

func TestChaosKillsLoseNoAcknowledgedWrite(t *testing.T) {
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("RIDESHARE_CHAOS_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	s := stacktest.Start(t, stacktest.Options{Slaves: 2})
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "w", 4)
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	kills := 0
	every := time.Duration(seconds) * time.Second / 12
	for time.Now().Before(end) {
		time.Sleep(every)
		ws := s.Workers()
		victim := ws[r.Intn(len(ws))]
		if err := syscall.Kill(victim.PID, syscall.SIGKILL); err == nil {
			kills++
			t.Logf("kill -9 %s pid %d", victim.Role, victim.PID)
		}
	}
	ok, failed := stop()
	t.Logf("%d kills; writers: %d acknowledged, %d failed", kills, ok, failed)
	if kills < 10 {
		t.Fatalf("only %d kills", kills)
	}
	s.WaitShape(2, 30*time.Second)
	s.WaitConverged(60 * time.Second)
	l.Check(t, s)
}

func TestScalingFollowsReadCount(t *testing.T) { forEachBackend(t, testScalingFollowsReadCount) }

func testScalingFollowsReadCount(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 1, ScaleInterval: 4 * time.Second})
	for i := 0; i < 45; i++ {
		if _, code := s.Read(dbapi.ReadRequest{Table: "users"}); code != 200 {
			t.Fatalf("read %d: %d", i, code)
		}
	}
	s.WaitShape(3, 15*time.Second)
	t.Logf("45 reads → 3 slaves")
	s.WaitShape(1, 20*time.Second) // an idle interval scales back in
	t.Logf("idle interval → 1 slave")
}

// A master paused until its ZooKeeper session expires, then resumed, gets
// no write applied on any replica (invariant 3).
func TestPausedMasterIsFenced(t *testing.T) { forEachBackend(t, testPausedMasterIsFenced) }

func testPausedMasterIsFenced(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config, Slaves: 2})
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "w", 4)
	time.Sleep(500 * time.Millisecond)
	old := master(t, s)
	// The whole process group: the worker and its plugin subprocesses (the
	// election plugin holds the ZooKeeper session), as a frozen host would be.
	if err := syscall.Kill(-old.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGSTOP master %s pid %d", old.ID, old.PID)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m, ok := findMaster(s); ok && m.ID != old.ID {
			t.Logf("new master %s pid %d", m.ID, m.PID)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new master while the old one is paused")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(-old.PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	ok, failed := stop()
	t.Logf("writers: %d acknowledged, %d failed", ok, failed)
	s.WaitShape(2, 30*time.Second)
	// The deposed master either stopped (it was caught mid-batch: its
	// database may hold writes the log skips) or serves on as a slave that
	// renewed its session; it is never master under its old epoch.
	for _, w := range s.Workers() {
		if w.PID == old.PID && w.Role != "slave" {
			t.Fatalf("the deposed master %d is still a worker, as %s", old.PID, w.Role)
		}
	}
	s.WaitConverged(30 * time.Second)
	l.Check(t, s)
	logs, _ := filepath.Glob(filepath.Join(s.Dir, "logs", "*.log"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "fenced") || strings.Contains(line, "deposed") || strings.Contains(line, "session lost") {
				t.Logf("%s: %s", filepath.Base(f), line)
			}
		}
	}
}
