package orchestrator_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/stacktest"
)

// zooKeeperPID finds the local ZooKeeper server's process (scripts/services.sh
// starts it on this machine).
func zooKeeperPID(t *testing.T) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "org.apache.zookeeper.server") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		return pid
	}
	t.Fatal("no local ZooKeeper server process found (run `make services`)")
	return 0
}

// A ZooKeeper pause longer than the session timeout (SIGSTOP for 6 s, as a
// long JVM pause or a short network cut) ends every session. The workers
// open new ones and join again: the same processes serve afterwards, writes
// are acknowledged again soon after ZooKeeper answers, and no acknowledged
// write is lost.
func TestZooKeeperPauseKeepsWorkers(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	before := map[int]bool{}
	for _, w := range s.Workers() {
		before[w.PID] = true
	}
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, "zk", 4)
	time.Sleep(500 * time.Millisecond)
	zk := zooKeeperPID(t)
	if err := syscall.Kill(zk, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = syscall.Kill(zk, syscall.SIGCONT)
		}
	}()
	time.Sleep(6 * time.Second)
	if err := syscall.Kill(zk, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	took := waitWrite(t, s, 30*time.Second)
	t.Logf("first acknowledged write %s after ZooKeeper was resumed", took)
	time.Sleep(time.Second)
	ok, failed := stop()
	t.Logf("writers: %d acknowledged, %d failed", ok, failed)
	s.WaitShape(1, 30*time.Second)
	for _, w := range s.Workers() {
		if !before[w.PID] {
			t.Errorf("worker %s (pid %d) is new: a worker was replaced instead of renewing its session", w.ID, w.PID)
		}
	}
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}
