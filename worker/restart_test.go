package worker_test

// Restarts of one replica with its own database, with no orchestrator: the
// workers run as real processes started by hand (rideshare worker -config
// -id), so the same worker id comes back on the same database.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/plugins/builtin"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
)

// cluster is a few worker processes on one test vhost and ZooKeeper root.
type cluster struct {
	t      *testing.T
	bin    string
	dir    string
	config string
	root   string
	procs  map[string]*exec.Cmd
	el     election.Election
	rpc    *broker.RPC
	n      int
}

const clusterHCL = `
amqp_url = %q
data_dir = %q
zookeeper {
  servers         = [%q]
  root            = %q
  session_timeout = "2s"
}
runtime "process" {}
storage "sqlite" {}
election "zookeeper" {}
orchestrator {
  listen = "127.0.0.1:0"
}
# Snapshots come from the log-bytes rule (a quarter of max_bytes); entries
# is high so that a restarted replica tries its own database first.
snapshot {
  entries  = 100000
  interval = "1h"
}
sync_log {
  max_bytes     = "2MiB"
  segment_bytes = "256KiB"
}
`

func newCluster(t *testing.T) *cluster {
	t.Helper()
	stacktest.RequireServices(t)
	c := &cluster{t: t, bin: stacktest.Binary(t), dir: t.TempDir(), procs: map[string]*exec.Cmd{},
		root: fmt.Sprintf("/rideshare-test/restart-%d", time.Now().UnixNano())}
	c.config = filepath.Join(c.dir, "cluster.hcl")
	hcl := fmt.Sprintf(clusterHCL, stacktest.AMQPURL, c.dir, stacktest.ZKAddr, c.root)
	if err := os.WriteFile(c.config, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
		t.Fatal(err)
	}
	el, err := builtin.Election(ctx, "zookeeper", election.Config{Servers: []string{stacktest.ZKAddr}, Root: c.root, SessionTimeout: 2 * time.Second}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	c.el = el
	rpc, err := broker.NewRPC(ctx, stacktest.AMQPURL, broker.RPCOptions{ReplyQueue: fmt.Sprintf("restart-test-%d", time.Now().UnixNano())}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	c.rpc = rpc
	t.Cleanup(c.close)
	return c
}

func (c *cluster) close() {
	for id := range c.procs {
		c.stop(id, syscall.SIGKILL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stacktest.DropSnapshots(ctx, c.el, stacktest.AMQPURL); err != nil {
		c.t.Logf("drop snapshots: %v", err)
	}
	// syncQ was declared with this test's small retention: a later test
	// declaring it with the defaults would be refused.
	if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
		c.t.Logf("reset queues: %v", err)
	}
	c.rpc.Close()
	c.el.Close()
}

// start runs worker id (again, on its own database if it ran before).
func (c *cluster) start(id string) {
	c.t.Helper()
	logf, err := os.OpenFile(c.logPath(id), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "worker", "-config", c.config, "-id", id)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "RIDESHARE_WORKER=")
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	logf.Close()
	c.procs[id] = cmd
}

func (c *cluster) logPath(id string) string { return filepath.Join(c.dir, id+".log") }

func (c *cluster) log(id string) string {
	b, _ := os.ReadFile(c.logPath(id))
	return string(b)
}

// stop ends worker id with sig and waits for it.
func (c *cluster) stop(id string, sig syscall.Signal) {
	cmd := c.procs[id]
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
	delete(c.procs, id)
	// Its record goes with its session; remove it now, as the orchestrator
	// does on an exit event.
	_ = c.el.Remove(context.Background(), id)
}

// waitReady waits until every id is a ready member and there is a leader.
func (c *cluster) waitReady(timeout time.Duration, ids ...string) map[string]election.Member {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ms, err := c.el.Members(ctx)
		_, leader, _ := c.el.Leader(ctx)
		cancel()
		byID := map[string]election.Member{}
		for _, m := range ms {
			if m.Ready {
				byID[m.ID] = m
			}
		}
		all := err == nil && leader
		for _, id := range ids {
			all = all && byID[id].Ready
		}
		if all {
			return byID
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("workers %v not all ready within %s: %+v (%v)", ids, timeout, ms, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// write inserts n users with padded passwords through writeQ, as the
// orchestrator does, and returns the last seq.
func (c *cluster) write(prefix string, n int) uint64 {
	c.t.Helper()
	pad := strings.Repeat("p", 2048)
	var last uint64
	for i := 0; i < n; i++ {
		c.n++
		body, _ := json.Marshal(dbapi.WriteRequest{Table: "users", Op: "insert",
			Values: map[string]any{"username": fmt.Sprintf("%s-%d", prefix, c.n), "password": pad}})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ans, err := c.rpc.Call(ctx, broker.WriteQ, fmt.Sprintf("%s-w%d-%d", c.root, c.n, time.Now().UnixNano()), body, broker.CallOptions{Persistent: true})
		cancel()
		if err != nil || ans.Status/100 != 2 {
			c.t.Fatalf("write %d: %v status %d %s", i, err, ans.Status, ans.Body)
		}
		var res dbapi.WriteResult
		_ = json.Unmarshal(ans.Body, &res)
		last = res.Seq
	}
	return last
}

// state opens worker id's database beside it.
func (c *cluster) state(id string) (storage.State, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := builtin.Storage(ctx, "sqlite", storage.Config{WorkerID: id, DataDir: filepath.Join(c.dir, "db")})
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	s, err := st.State(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := st.Hash(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return s, h
}

// waitSame waits until every id's database has the same hash and seq.
func (c *cluster) waitSame(timeout time.Duration, ids ...string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		seen := map[string]bool{}
		var desc []string
		for _, id := range ids {
			s, h := c.state(id)
			seen[fmt.Sprintf("%d/%s", s.Seq, h)] = true
			desc = append(desc, fmt.Sprintf("%s seq %d hash %.12s", id, s.Seq, h))
		}
		if len(seen) == 1 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replicas differ after %s: %v", timeout, desc)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// firstLogOffset is the offset of the oldest entry syncQ still holds.
func firstLogOffset(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := stacktest.Channel(t, stacktest.AMQPURL)
	defer ch.Close()
	ds, err := broker.Follow(ctx, ch, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ds:
		_, off, _ := broker.DecodeEntries(d)
		return off
	case <-ctx.Done():
		t.Fatal("syncQ delivered nothing")
	}
	return 0
}

// A replica stopped for a little while resumes from its own database; one
// stopped until the log's retention dropped its position loads a snapshot
// and converges.
func TestRestartedReplicaResumesOrRebootstraps(t *testing.T) {
	c := newCluster(t)
	c.start("a")
	c.waitReady(60*time.Second, "a")
	c.start("b")
	c.start("r")
	c.waitReady(60*time.Second, "a", "b", "r")
	c.write("warm", 100)
	c.waitSame(30*time.Second, "a", "b", "r")

	// A short stop: the log still holds its position.
	c.stop("r", syscall.SIGTERM)
	before, _ := c.state("r")
	c.write("short", 50)
	c.start("r")
	ms := c.waitReady(60*time.Second, "r")
	if ms["r"].StartedFrom != "" || !strings.Contains(c.log("r"), "resuming from this replica's own database") {
		t.Fatalf("r (seq %d before) did not resume from its own database: started from %q\n%s", before.Seq, ms["r"].StartedFrom, c.log("r"))
	}
	c.waitSame(30*time.Second, "a", "b", "r")

	// A long stop: write until retention has dropped r's next offset.
	c.stop("r", syscall.SIGTERM)
	before, _ = c.state("r")
	for i := 0; firstLogOffset(t) <= before.Offset+1; i++ {
		if i == 20 {
			t.Fatalf("syncQ still starts at %d after %d writes: retention never dropped r's position %d", firstLogOffset(t), c.n, before.Offset)
		}
		c.write("long", 500)
	}
	t.Logf("syncQ now starts at offset %d; r stopped at %d", firstLogOffset(t), before.Offset)
	c.start("r")
	c.waitReady(90*time.Second, "r")
	if !strings.Contains(c.log("r"), "left the retained log") || !strings.Contains(c.log("r"), "loaded snapshot") {
		t.Fatalf("r did not re-bootstrap from a snapshot:\n%s", c.log("r"))
	}
	c.write("after", 20)
	c.waitSame(60*time.Second, "a", "b", "r")

	// With the snapshotting slave stopped too, the log is truncated past
	// every snapshot: r must stop with an error saying so, never serve.
	c.stop("r", syscall.SIGTERM)
	c.stop("b", syscall.SIGTERM)
	before, _ = c.state("r")
	var newest int64 = -1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	recs, err := c.el.Snapshots(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		newest = max(newest, r.Offset)
	}
	for i := 0; firstLogOffset(t) <= max(before.Offset, newest)+1; i++ {
		if i == 20 {
			t.Fatalf("retention never dropped the newest snapshot's offset %d", newest)
		}
		c.write("lost", 500)
	}
	c.start("r")
	done := make(chan error, 1)
	go func() { done <- c.procs["r"].Wait() }()
	select {
	case err := <-done:
		delete(c.procs, "r")
		if err == nil || !strings.Contains(c.log("r"), "truncated past every snapshot") {
			t.Fatalf("r exited with %v; want an error naming the truncated log:\n%s", err, c.log("r"))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("r did not stop although no snapshot covers the log's start:\n%s", c.log("r"))
	}

	// The log deleted under a kept catalog: a new worker loads the newest
	// snapshot, whose position the new log never reaches. It must stop
	// with an error saying so, not wait for ever.
	c.stop("a", syscall.SIGTERM)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	err = broker.Reset(ctx, stacktest.AMQPURL)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	c.start("n")
	go func() { done <- c.procs["n"].Wait() }()
	select {
	case err := <-done:
		delete(c.procs, "n")
		if err == nil || !strings.Contains(c.log("n"), "the log was deleted or replaced") {
			t.Fatalf("n exited with %v; want an error naming the replaced log:\n%s", err, c.log("n"))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("n waits for a position the new log never reaches:\n%s", c.log("n"))
	}
}
