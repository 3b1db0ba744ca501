package plugintest_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// asSubprocesses runs the built-in backends as go-plugin subprocesses (a
// deployment links them in by default), so that there is a process to kill.
func asSubprocesses(c *config.Config) { c.BuiltinPlugins = config.BuiltinsSubprocess }

// The built-in plugins as "<rideshare> plugin <kind> <name>" shows them in ps.
const (
	runtimePluginCmd = " plugin runtime process"
	storagePluginCmd = " plugin storage sqlite"
)

// TestRuntimePluginKilledLosesNoWorker: SIGKILL of the orchestrator's
// runtime plugin process (a child of the orchestrator, here the test
// process) in a running stack, while writes run. The host logs the death
// naming the plugin and restarts it; the new process adopts the workers, so
// the same workers (same pids) are listed, writes and reads go on, and the
// restarted runtime still kills and starts workers: crash/slave kills the
// adopted slave and the replacement is a child of the new plugin process.
func TestRuntimePluginKilledLosesNoWorker(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, Edit: asSubprocesses})
	logFile := filepath.Join(s.Dir, "orchestrator.log")
	l := stacktest.NewLedger()
	for i := 0; i < 10; i++ {
		if code := l.Insert(s, fmt.Sprintf("before-%d", i)); code != 200 {
			t.Fatalf("write %d: status %d", i, code)
		}
	}
	before := s.Workers()
	beforeList := workerList(t, s)
	old := onlyChild(t, os.Getpid(), runtimePluginCmd)
	for _, w := range before {
		if p, _ := readProc(w.PID); p.ppid != old.pid {
			t.Fatalf("worker %s pid %d: parent %d, want the runtime plugin %d", w.ID, w.PID, p.ppid, old.pid)
		}
	}

	stop := stacktest.Writers(s, l, "during", 2)
	time.Sleep(300 * time.Millisecond)
	killedAt := time.Now()
	sigkill(t, old.pid)
	t.Logf("kill -9 runtime plugin pid %d (%s)", old.pid, old.cmdline)

	var fresh proc
	took := waitFor(t, "a new runtime plugin process", 30*time.Second, func() bool {
		ps := children(os.Getpid(), runtimePluginCmd)
		if len(ps) == 1 && ps[0].pid != old.pid {
			fresh = ps[0]
			return true
		}
		return false
	})
	t.Logf("new runtime plugin pid %d after %s", fresh.pid, took.Round(time.Millisecond))
	waitFor(t, "orchestrator.log to report the death and the restart", 10*time.Second, func() bool {
		died := logLines(logFile, "restarting it", "kind=runtime", "name=process", fmt.Sprintf("pid=%d", old.pid))
		back := logLines(logFile, "plugin restarted and reconfigured", "kind=runtime", "name=process", fmt.Sprintf("pid=%d", fresh.pid))
		if len(died) > 0 && len(back) > 0 {
			t.Logf("orchestrator.log: %s", died[0])
			t.Logf("orchestrator.log: %s", back[0])
			return true
		}
		return false
	})

	waitFor(t, "the orchestrator's /metrics to count the runtime plugin's restart", 10*time.Second, func() bool {
		resp, err := http.Get(s.URL + api.RouteMetrics)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `rideshare_plugin_restarts_total{kind="runtime"} 1`+"\n")
	})

	// Give a wrongly reported worker exit time to make the supervisor act.
	time.Sleep(3 * time.Second)
	ok, failed := stop()
	t.Logf("writers across the runtime plugin's death: %d acknowledged, %d failed (%s since the kill)",
		ok, failed, time.Since(killedAt).Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d writes failed while the runtime plugin restarted (the data path does not use it)", failed)
	}

	after := s.Workers()
	afterList := workerList(t, s)
	if fmt.Sprint(afterList) != fmt.Sprint(beforeList) {
		t.Fatalf("worker/list changed across the runtime plugin restart: before %v, after %v", beforeList, afterList)
	}
	for _, b := range before {
		a, ok := workerByID(after, b.ID)
		if !ok || a.PID != b.PID || a.Role != b.Role {
			t.Fatalf("worker %s (pid %d, %s) not listed unchanged after the restart: %+v", b.ID, b.PID, b.Role, after)
		}
		if !alive(b.PID) {
			t.Fatalf("worker %s pid %d died with the runtime plugin", b.ID, b.PID)
		}
	}
	t.Logf("same workers after the restart: %v", afterList)

	for i := 0; i < 10; i++ {
		if code := l.Insert(s, fmt.Sprintf("after-%d", i)); code != 200 {
			t.Fatalf("write after the restart: status %d", code)
		}
	}
	_, seq := l.Acknowledged()
	readBack(t, s, "after-9", seq)
	l.Check(t, s)

	// The restarted runtime kills an adopted worker and starts its successor.
	slave := roleOf(t, s, "slave")
	var killed []string
	if code := s.Do("POST", api.RouteCrashSlave, nil, &killed); code != 200 || len(killed) != 1 || killed[0] != fmt.Sprint(slave.PID) {
		t.Fatalf("crash/slave: %d %v, want [\"%d\"]", code, killed, slave.PID)
	}
	waitFor(t, fmt.Sprintf("crashed slave pid %d to die", slave.PID), 10*time.Second, func() bool { return !alive(slave.PID) })
	waitFor(t, "a replacement slave", 30*time.Second, func() bool {
		for _, w := range s.Workers() {
			if w.Role == "slave" && w.ID != slave.ID {
				return true
			}
		}
		return false
	})
	s.WaitShape(1, 30*time.Second)
	repl := roleOf(t, s, "slave")
	if p, _ := readProc(repl.PID); p.ppid != fresh.pid {
		t.Errorf("replacement slave %s pid %d: parent %d, want the restarted runtime plugin %d", repl.ID, repl.PID, p.ppid, fresh.pid)
	}
	t.Logf("crash/slave killed adopted pid %d; replacement %s pid %d started by plugin pid %d", slave.PID, repl.ID, repl.PID, fresh.pid)
	if code := l.Insert(s, "after-crash"); code != 200 {
		t.Fatalf("write after crash/slave: status %d", code)
	}
	_, seq = l.Acknowledged()
	readBack(t, s, "after-crash", seq)
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}

// TestStoragePluginKilledLosesNoWrite: SIGKILL of a worker's storage plugin
// process (a child of the worker), three times, while writes and reads run,
// for the master and for a slave. The worker's plugin host restarts the plugin on
// the same database; the worker keeps its pid and role and keeps serving,
// and every acknowledged write is present exactly once on every replica.
func TestStoragePluginKilledLosesNoWrite(t *testing.T) {
	for _, role := range []string{"master", "slave"} {
		t.Run(role, func(t *testing.T) { testStoragePluginKilled(t, role) })
	}
}

func testStoragePluginKilled(t *testing.T, role string) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, Edit: asSubprocesses})
	l := stacktest.NewLedger()
	stopW := stacktest.Writers(s, l, "w", 4)
	stopR := readers(s, l, 2)
	time.Sleep(time.Second)

	victim := roleOf(t, s, role)
	// Three kills, each once the previous restart is done, so that some
	// land in the middle of an Apply.
	const kills = 3
	var old, fresh proc
	for k := 1; k <= kills; k++ {
		old = onlyChild(t, victim.PID, storagePluginCmd)
		n, _ := l.Acknowledged()
		sigkill(t, old.pid)
		took := waitFor(t, "the worker's storage plugin to be restarted", 30*time.Second, func() bool {
			if !alive(victim.PID) {
				t.Fatalf("%s %s pid %d exited when its storage plugin died", role, victim.ID, victim.PID)
			}
			ps := children(victim.PID, storagePluginCmd)
			if len(ps) == 1 && ps[0].pid != old.pid {
				fresh = ps[0]
				return true
			}
			return false
		})
		t.Logf("kill %d: kill -9 storage plugin pid %d of %s %s pid %d (%d writes acknowledged so far); new plugin pid %d after %s",
			k, old.pid, role, victim.ID, victim.PID, n, fresh.pid, took.Round(time.Millisecond))
		time.Sleep(700 * time.Millisecond)
	}

	// Writes and reads go on through the restarted plugin.
	n1, _ := l.Acknowledged()
	time.Sleep(2 * time.Second)
	n2, _ := l.Acknowledged()
	okW, failedW := stopW()
	okR, failedR := stopR()
	t.Logf("writers: %d acknowledged, %d failed; readers: %d ok, %d failed; %d writes acknowledged in the 2s after the restart",
		okW, failedW, okR, failedR, n2-n1)
	if n2 == n1 {
		t.Fatalf("no write acknowledged in the 2s after the storage plugin restarted")
	}

	logFile := filepath.Join(s.Dir, "logs", victim.ID+".log")
	died := logLines(logFile, "restarting it", "kind=storage", "name=sqlite", fmt.Sprintf("pid=%d", old.pid))
	back := logLines(logFile, "plugin restarted and reconfigured", "kind=storage", fmt.Sprintf("pid=%d", fresh.pid))
	if len(died) == 0 || len(back) == 0 {
		t.Errorf("worker log %s does not report the storage plugin's death (pid %d) and restart (pid %d)", logFile, old.pid, fresh.pid)
	} else if all := logLines(logFile, "plugin restarted and reconfigured", "kind=storage"); len(all) != kills {
		t.Errorf("worker log %s reports %d storage plugin restarts, want %d", logFile, len(all), kills)
	} else {
		t.Logf("%s.log: %s", victim.ID, died[0])
		t.Logf("%s.log: %s", victim.ID, back[0])
	}

	s.WaitShape(1, 30*time.Second)
	now, ok := workerByID(s.Workers(), victim.ID)
	if !ok || now.PID != victim.PID || now.Role != role {
		t.Fatalf("%s %s pid %d not listed unchanged: %+v", role, victim.ID, victim.PID, s.Workers())
	}
	if code := l.Insert(s, "after"); code != 200 {
		t.Fatalf("write after the restart: status %d", code)
	}
	_, seq := l.Acknowledged()
	readBack(t, s, "after", seq)
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}

// readers keeps n goroutines reading the users table at the highest
// acknowledged seq until stop is called.
func readers(s *stacktest.Stack, l *stacktest.Ledger, n int) (stop func() (ok, failed int)) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	var mu sync.Mutex
	var okN, failN int
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				_, seq := l.Acknowledged()
				_, code := s.Read(dbapi.ReadRequest{Table: "users", Limit: 5, MinSeq: seq})
				mu.Lock()
				if code == 200 {
					okN++
				} else {
					failN++
				}
				mu.Unlock()
			}
		}()
	}
	return func() (int, int) {
		close(done)
		wg.Wait()
		return okN, failN
	}
}
