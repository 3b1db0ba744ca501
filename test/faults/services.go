package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/procfs"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// rabbitCmd finds RabbitMQ's node by its command line: the beam.smp booted
// with "-s rabbit boot" (rabbitmqctl's own beam.smp is not). ZooKeeper is
// found by stacktest.ZooKeeperCmd.
const rabbitCmd = "-s rabbit boot"

// zkAnswers reports whether ZooKeeper serves: `srvr` answers with a Mode
// line (as scripts/services.sh checks), which a stopped JVM cannot do.
func zkAnswers() bool {
	c, err := net.DialTimeout("tcp", stacktest.ZKAddr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	b := make([]byte, 512)
	n, _ := c.Read(b)
	return strings.Contains(string(b[:n]), "Mode: ")
}

// rabbitAnswers reports whether RabbitMQ accepts an AMQP connection on the
// tests' vhost.
func rabbitAnswers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := broker.Dial(ctx, stacktest.AMQPURL, 0)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// rabbitmqctl runs one rabbitmqctl command.
func rabbitmqctl(args ...string) error {
	out, err := exec.Command("rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// restoreServices is the suite's cleanup of what a failed or interrupted
// fault may have left: its iptables rules and cgroups gone, ZooKeeper and
// RabbitMQ running and answering.
func restoreServices(t *testing.T) func() {
	return func() {
		removeAllRules()
		left, _ := filepath.Glob(filepath.Join(cgroupRoot, "rideshare-faults-*"))
		for _, dir := range left {
			_ = os.Remove(dir)
		}
		for _, cmd := range []string{stacktest.ZooKeeperCmd, rabbitCmd} {
			if pid, err := findProc(cmd); err == nil && procfs.Stopped(pid) {
				t.Logf("resuming %s (pid %d), left stopped", cmd, pid)
				_ = cont(pid)
			}
		}
		if err := waitFor(10*time.Second, "RabbitMQ", rabbitAnswers); err != nil {
			t.Logf("RabbitMQ does not answer: starting its app")
			_ = rabbitmqctl("start_app")
			_ = rabbitmqctl("await_startup")
		}
		if err := waitFor(10*time.Second, "ZooKeeper", zkAnswers); err != nil {
			t.Logf("ZooKeeper does not answer: scripts/services.sh")
			if err := stacktest.StartServices(); err != nil {
				t.Errorf("restore the services: %v", err)
			}
		}
	}
}
