package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/wiring"
	"github.com/rideshare/dbaas/plugins/election"
)

// Options shape a test stack.
type Options struct {
	// Config is the shipped file to start from (default hcl/local.hcl).
	Config string
	// Vars are extra -var overrides.
	Vars []string
	// Slaves is the initial number of slaves (default 1).
	Slaves int
	// ScaleInterval is the autoscaling interval (default 1h: no scaling).
	ScaleInterval time.Duration
	MaxSlaves     int
	// RPCTimeout bounds DB API calls (default: the config's,
	// orchestrator.DefaultRPCTimeout unless it sets rpc_timeout).
	RPCTimeout time.Duration
	// KeepWorkers leaves workers running when the orchestrator stops, so a
	// restarted one adopts them (they are still killed when the test ends).
	KeepWorkers bool
	// KeepLog starts on the queues (and so the replication log) an earlier
	// stack left, instead of resetting them.
	KeepLog bool
	// Edit changes the loaded config before the stack starts.
	Edit func(*config.Config)
}

// Stack is a running DBaaS: an orchestrator in this process, workers as
// real processes.
type Stack struct {
	t      testing.TB
	Config *config.Config
	URL    string // orchestrator base URL
	Dir    string // data dir: worker databases, logs, runtime state
	// Vars are the -var settings the stack was loaded with (for running
	// CLI commands against it: -config Config.File plus these).
	Vars []string

	ln     net.Listener
	cancel context.CancelFunc
	done   chan error
	close  func()
}

// Start resets the queues, starts an orchestrator on a free port and waits
// until it holds 1 master + opts.Slaves slaves. Everything it started is
// stopped when the test ends.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	RequireServices(t)
	bin := Binary(t)
	if opts.Config == "" {
		opts.Config = "hcl/local.hcl"
	}
	if opts.Slaves == 0 {
		opts.Slaves = 1
	}
	if opts.ScaleInterval == 0 {
		opts.ScaleInterval = time.Hour
	}
	dir, err := os.MkdirTemp("", "rideshare-stack-")
	if err != nil {
		t.Fatal(err)
	}
	vars := append([]string{
		"data_dir=" + dir,
		"zk_root=/rideshare-test/" + randomName(),
		"scale_interval=" + opts.ScaleInterval.String(),
		"amqp_url=" + AMQPURL,
		fmt.Sprintf("zk_servers=[%q]", ZKAddr),
	}, opts.Vars...)
	if opts.Config == "hcl/docker.hcl" {
		buildImage(t)
		RequirePostgres(t)
		vars = append(vars, "image="+TestImage, "pg_url="+PGURL, "stack=test-"+randomName())
	}
	cfg, err := config.Load(opts.Config, vars)
	if err != nil {
		t.Fatalf("load %s: %v", opts.Config, err)
	}
	cfg.Orchestrator.Slaves = opts.Slaves
	if opts.MaxSlaves > 0 {
		cfg.Scaling.MaxSlaves = opts.MaxSlaves
	}
	if opts.RPCTimeout > 0 {
		cfg.Orchestrator.RPCTimeout = opts.RPCTimeout
	}
	if opts.Edit != nil {
		opts.Edit(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !opts.KeepLog {
		// Right after a broker restart (a test of ours may have done one) a
		// stream is "down or inaccessible" for a moment while RabbitMQ
		// recovers it: try again until the deadline, then fail naming it.
		for {
			err := broker.Reset(ctx, cfg.AMQPURL)
			if err == nil {
				break
			}
			if ctx.Err() != nil || !strings.Contains(err.Error(), "down or inaccessible") {
				t.Fatalf("reset queues on RabbitMQ: %v", err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	os.Setenv("RIDESHARE_BINARY", bin)
	s := &Stack{t: t, Config: cfg, Dir: dir, Vars: vars}
	t.Cleanup(func() {
		s.Stop()
		if !t.Failed() && os.Getenv("RIDESHARE_KEEP_STACK") == "" {
			os.RemoveAll(dir)
		} else {
			t.Logf("stack data and worker logs kept in %s", dir)
		}
	})
	s.StartOrchestrator(!opts.KeepWorkers)
	s.WaitShape(opts.Slaves, 60*time.Second)
	return s
}

// StartOrchestrator starts (or restarts) the orchestrator. With stopWorkers
// it stops every worker when it stops; otherwise they keep running for the
// next one to adopt.
func (s *Stack) StartOrchestrator(stopWorkers bool) {
	s.t.Helper()
	addr := "127.0.0.1:0"
	if s.URL != "" {
		addr = s.URL[len("http://"):] // same port after a restart
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old listener's port may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen for orchestrator: %v", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.Config.Orchestrator.Listen = ln.Addr().String()
	logf, err := os.OpenFile(filepath.Join(s.Dir, "orchestrator.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "orchestrator", Level: hclog.Debug, Output: logf})
	ctx, cancel := context.WithCancel(context.Background())
	o, closeFn, err := wiring.NewOrchestrator(ctx, s.Config, wiring.OrchestratorOptions{
		Binary: Binary(s.t), StopWorkers: stopWorkers, Logger: log})
	if err != nil {
		cancel()
		ln.Close()
		s.t.Fatalf("start orchestrator: %v", err)
	}
	s.ln, s.cancel, s.done = ln, cancel, make(chan error, 1)
	s.close = func() { closeFn(); logf.Close() }
	go func() { s.done <- o.Serve(ctx, ln) }()
	select {
	case <-o.Ready():
	case err := <-s.done:
		s.done <- err
		s.t.Fatalf("orchestrator stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		s.t.Fatalf("orchestrator not ready after 30s")
	}
}

// StopOrchestrator stops the orchestrator (and, if it was started with
// stopWorkers, every worker).
func (s *Stack) StopOrchestrator() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Logf("orchestrator stopped with: %v", err)
	}
	s.close()
	s.cancel = nil
}

// Stop stops everything the stack started; no worker process survives it.
func (s *Stack) Stop() {
	s.StopOrchestrator()
	// Belt and braces: kill any worker a crashed orchestrator left behind.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, _, err := peek.Runtime(ctx, s.Config.Runtime.Name, wiring.RuntimeConfig(s.Config, Binary(s.t)))
	if err != nil {
		return
	}
	hs, _ := rt.List(ctx)
	for _, h := range hs {
		s.t.Logf("killing leftover worker %s (pid %d)", h.ID, h.PID)
		_ = rt.Kill(ctx, h.ID)
	}
	s.dropSnapshots(ctx)
}

// Snapshots is the stack's snapshot catalog, newest first.
func (s *Stack) Snapshots() (recs []election.SnapshotRecord) {
	s.t.Helper()
	s.withElection(func(ctx context.Context, el election.Election) (err error) {
		recs, err = el.Snapshots(ctx)
		return err
	})
	return recs
}

// PutSnapshot writes a catalog record (a test's forged or request record).
func (s *Stack) PutSnapshot(r election.SnapshotRecord) {
	s.t.Helper()
	s.withElection(func(ctx context.Context, el election.Election) error { return el.PutSnapshot(ctx, r) })
}

// withElection runs fn on a session of the stack's election backend and
// fails the test on an error.
func (s *Stack) withElection(fn func(context.Context, election.Election) error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	el, err := peek.Election(ctx, s.Config.Election.Name, wiring.ElectionConfig(s.Config))
	if err != nil {
		s.t.Fatalf("open election: %v", err)
	}
	defer el.Close()
	if err := fn(ctx, el); err != nil {
		s.t.Fatalf("snapshot catalog: %v", err)
	}
}

// dropSnapshots deletes the snapshot queues of the stack's catalog: each
// test stack has a ZooKeeper root of its own, so nothing else would.
func (s *Stack) dropSnapshots(ctx context.Context) {
	el, err := peek.Election(ctx, s.Config.Election.Name, wiring.ElectionConfig(s.Config))
	if err != nil {
		return
	}
	defer el.Close()
	if err := DropSnapshots(ctx, el, s.Config.AMQPURL); err != nil {
		s.t.Logf("drop snapshots: %v", err)
	}
}

// DropSnapshots deletes every record of el's snapshot catalog and the
// queues they name on the broker at url.
func DropSnapshots(ctx context.Context, el election.Catalog, url string) error {
	recs, err := el.Snapshots(ctx)
	if err != nil {
		return err
	}
	var queues []string
	for _, r := range recs {
		if r.Queue != "" {
			queues = append(queues, r.Queue)
		}
		_ = el.DeleteSnapshot(ctx, r.ID)
	}
	if len(queues) == 0 {
		return nil
	}
	return broker.DeleteQueues(ctx, url, queues...)
}

// Workers is GET /api/v1/workers.
func (s *Stack) Workers() []api.WorkerInfo {
	s.t.Helper()
	ws, err := s.API().Workers(context.Background())
	if err != nil {
		s.t.Fatalf("list the workers: %v", err)
	}
	return ws
}

// Shape counts masters and (non-draining) slaves that have registered.
func (s *Stack) Shape() (masters, slaves int) {
	return shapeOf(s.Workers())
}

func shapeOf(ws []api.WorkerInfo) (masters, slaves int) {
	for _, w := range ws {
		switch {
		case w.Role == "master":
			masters++
		case !w.Draining:
			slaves++
		}
	}
	return
}

// WaitShape waits until there is exactly 1 master and the given number of
// slaves, all registered with the election and caught up (serving).
func (s *Stack) WaitShape(slaves int, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// A list refused for a moment (503 while the orchestrator restarts
		// a plugin, say) is a shape not reached yet.
		ws, err := s.API().Workers(context.Background())
		m, n := shapeOf(ws)
		if err == nil && m == 1 && n == slaves && len(ws) == slaves+1 && s.allRegistered(ws) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("shape not reached in %s: want 1 master + %d slaves, have %d masters, %d slaves: %+v (list: %v)", timeout, slaves, m, n, ws, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Stack) allRegistered(ws []api.WorkerInfo) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	el, err := peek.Election(ctx, s.Config.Election.Name, wiring.ElectionConfig(s.Config))
	if err != nil {
		return false
	}
	defer el.Close()
	ms, err := el.Members(ctx)
	if err != nil {
		return false
	}
	have := map[string]bool{}
	for _, m := range ms {
		have[m.ID] = true
	}
	for _, w := range ws {
		if !have[w.ID] || !w.Ready {
			return false
		}
	}
	return true
}

// peek loads backends in-process: tests look at workers' state without the
// plugin boundary they are testing.
var peek = wiring.Loader{InProcess: true, Logger: hclog.NewNullLogger()}

func randomName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
