package orchestrator_test

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// A RabbitMQ restart under writers loses no acknowledged write and keeps
// the same workers: the queues and the replication log are durable, the
// orchestrator and every worker dial again, and the master keeps its lead
// (its outage is shorter than the worker's broker grace).
func TestBrokerRestartLosesNoAcknowledgedWrite(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	before := workerPIDs(s)
	l := stacktest.NewLedger()
	for i := 0; i < 200; i++ {
		if code := l.Insert(s, fmt.Sprintf("before-%d", i)); code != 200 {
			t.Fatalf("write before the restart: %d", code)
		}
	}
	stop := stacktest.Writers(s, l, "during", 4)
	for _, args := range [][]string{{"stop_app"}, {"start_app"}, {"await_startup"}} {
		if out, err := exec.Command("rabbitmqctl", args...).CombinedOutput(); err != nil {
			stop()
			t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
		}
	}
	t.Logf("RabbitMQ restarted")
	took := waitWrite(t, s, 90*time.Second)
	t.Logf("first successful write %s after RabbitMQ was back", took)
	ok, failed := stop()
	t.Logf("writers during the restart: %d acknowledged, %d failed", ok, failed)
	for i := 0; i < 100; i++ {
		if code := l.Insert(s, fmt.Sprintf("after-%d", i)); code != 200 {
			t.Fatalf("write after the restart: %d", code)
		}
	}
	s.WaitShape(1, 60*time.Second)
	requireSameWorkers(t, s, before)
	l.Check(t, s)
	s.WaitConverged(30 * time.Second)
}

// Deleting readQ and responseQ under a running stack (an operator's
// mistake) heals: the orchestrator reconnects and declares them again, the
// slaves whose consumer the broker ended are replaced, and reads work again.
func TestDeletedQueuesAreRedeclared(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	if _, code := s.Read(dbapi.ReadRequest{Table: "users"}); code != 200 {
		t.Fatalf("read before: %d", code)
	}
	ch := stacktest.Channel(t, s.Config.AMQPURL)
	for _, q := range []string{broker.ReadQ, broker.ResponseQ} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Fatalf("delete %s: %v", q, err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, code := s.Read(dbapi.ReadRequest{Table: "users"}); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reads did not recover after readQ and responseQ were deleted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.WaitShape(1, 30*time.Second)
}
