package orchestrator_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/stacktest"
)

// zooKeeperPID is the local ZooKeeper server's pid.
func zooKeeperPID(t *testing.T) int {
	t.Helper()
	pid, err := stacktest.ZooKeeperPID()
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// A ZooKeeper pause longer than the session timeout (SIGSTOP for 6 s, as a
// long JVM pause or a short network cut) ends every session. The workers
// open new ones and join again: the same processes serve afterwards, writes
// are acknowledged again soon after ZooKeeper answers, and no acknowledged
// write is lost.
func TestZooKeeperPauseKeepsWorkers(t *testing.T) {
	rideOut(t, "zk", func() {
		zk := zooKeeperPID(t)
		if err := syscall.Kill(zk, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := syscall.Kill(zk, syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		}()
		time.Sleep(6 * time.Second)
	})
}

// A ZooKeeper restart (the server stopped, down for 3 s, started again) under
// writers: the same as a pause for the workers, but every connection is
// refused meanwhile and the server comes back from its own disk.
func TestZooKeeperRestartKeepsWorkers(t *testing.T) {
	rideOut(t, "zkr", func() {
		zk := zooKeeperPID(t)
		if err := syscall.Kill(zk, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100 && syscall.Kill(zk, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		if err := stacktest.StartServices(); err != nil {
			t.Fatal(err)
		}
	})
}

// rideOut runs outage (which returns once ZooKeeper answers again) on a
// stack under 4 writers and checks the stack rode it out: writes are
// acknowledged again, the same worker processes serve, no acknowledged write
// is lost and the replicas are equal.
func rideOut(t *testing.T, prefix string, outage func()) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	before := workerPIDs(s)
	l := stacktest.NewLedger()
	stop := stacktest.Writers(s, l, prefix, 4)
	time.Sleep(500 * time.Millisecond)
	outage()
	took := waitWrite(t, s, 30*time.Second)
	t.Logf("first acknowledged write %s after ZooKeeper answered again", took)
	time.Sleep(time.Second)
	ok, failed := stop()
	t.Logf("writers: %d acknowledged, %d failed", ok, failed)
	s.WaitShape(1, 30*time.Second)
	requireSameWorkers(t, s, before)
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}
