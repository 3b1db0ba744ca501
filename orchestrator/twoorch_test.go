package orchestrator_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/internal/wiring"
)

// startSecondOrchestrator starts another orchestrator with id on s's stack
// (same data dir, ZooKeeper root and vhost, its own port) and returns a
// Stack attached to it. It stops when the test ends, before s does, and
// leaves the workers to s.
func startSecondOrchestrator(t *testing.T, s *stacktest.Stack, id string) *stacktest.Stack {
	t.Helper()
	cfg := *s.Config
	cfg.Orchestrator.ID = id
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Orchestrator.Listen = ln.Addr().String()
	logf, err := os.OpenFile(filepath.Join(s.Dir, "orchestrator-"+id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "orchestrator-" + id, Level: hclog.Debug, Output: logf})
	ctx, cancel := context.WithCancel(context.Background())
	o, closeFn, err := wiring.NewOrchestrator(ctx, &cfg, wiring.OrchestratorOptions{Binary: stacktest.Binary(t), Logger: log})
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("start orchestrator %s: %v", id, err)
	}
	done := make(chan error, 1)
	go func() { done <- o.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("orchestrator %s stopped with: %v", id, err)
		}
		closeFn()
		logf.Close()
	})
	select {
	case <-o.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("orchestrator %s stopped at start: %v", id, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("orchestrator %s not ready after 30s", id)
	}
	return stacktest.Attach(t, "http://"+ln.Addr().String(), &cfg, s.Dir)
}

func role(t *testing.T, s *stacktest.Stack) api.OrchestratorRole {
	t.Helper()
	st, err := s.API().Status(context.Background())
	if err != nil {
		t.Fatalf("status of %s: %v", s.URL, err)
	}
	if st.Orchestrator == nil {
		t.Fatalf("status of %s has no orchestrator role: %+v", s.URL, st)
	}
	return *st.Orchestrator
}

// metric is the value of the sample named (with its labels, as the text
// format writes them) as s serves it.
func metric(t *testing.T, s *stacktest.Stack, sample string) string {
	t.Helper()
	code, body := s.DoRaw("GET", api.RouteMetrics, nil, nil)
	if code != 200 {
		t.Fatalf("GET /metrics of %s: %d", s.URL, code)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	t.Fatalf("no %s in the metrics of %s", sample, s.URL)
	return ""
}

func workerIDs(ws []api.WorkerInfo) string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID + "/" + w.Role
	}
	return strings.Join(ids, ",")
}

// writeVia writes a user through one orchestrator and reads it back
// through the other (read-your-writes with min_seq).
func writeVia(t *testing.T, from, to *stacktest.Stack, name string) {
	t.Helper()
	res, code := from.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": name, "password": "p"}})
	if code != 200 {
		t.Fatalf("write %s through %s: %d", name, from.URL, code)
	}
	rows, code := to.Read(dbapi.ReadRequest{Table: "users", Columns: []string{"username"}, Where: map[string]any{"username": name}, MinSeq: res.Seq})
	if code != 200 || len(rows.Rows) != 1 {
		t.Fatalf("read %s through %s: %d %+v", name, to.URL, code, rows)
	}
}

// TestTwoOrchestrators runs two orchestrators with different ids on one
// vhost: both answer reads, writes and the admin API, exactly one
// supervises, and when it stops the other supervises and replaces a slave
// killed afterwards.
func TestTwoOrchestrators(t *testing.T) {
	// a stops the workers when it stops (as rideshare up, or -stop-workers,
	// does), unless another orchestrator supervises them then: b will.
	a := stacktest.Start(t, stacktest.Options{Slaves: 1,
		Edit: func(c *config.Config) { c.Orchestrator.ID = "orch-a" }})
	b := startSecondOrchestrator(t, a, "orch-b")

	ra, rb := role(t, a), role(t, b)
	if ra != (api.OrchestratorRole{ID: "orch-a", Role: api.RoleSupervising, Supervisor: "orch-a"}) ||
		rb != (api.OrchestratorRole{ID: "orch-b", Role: api.RoleStandby, Supervisor: "orch-a"}) {
		t.Fatalf("roles: a %+v, b %+v; want a supervising, b standing by", ra, rb)
	}
	if ma, mb := metric(t, a, "rideshare_orchestrator_supervising"), metric(t, b, "rideshare_orchestrator_supervising"); ma != "1" || mb != "0" {
		t.Fatalf("rideshare_orchestrator_supervising: a %s, b %s; want 1 and 0", ma, mb)
	}
	// Each gets its own replies: writes through one, reads through the
	// other, both ways.
	writeVia(t, a, b, "via-a")
	writeVia(t, b, a, "via-b")
	// The standby's view of the workers is the supervisor's.
	if wa, wb := workerIDs(a.Workers()), workerIDs(b.Workers()); wa != wb || wa == "" {
		t.Fatalf("workers: a %s, b %s; want the same", wa, wb)
	}

	// The admin API on the standby: a slave crashed through b is killed by
	// b's runtime and replaced by a, the supervisor.
	victim := slaves(b)[0]
	var pids []string
	if code := b.Do("POST", api.RouteCrashSlave, nil, &pids); code != 200 || len(pids) != 1 || pids[0] != strconv.Itoa(victim.PID) {
		t.Fatalf("crash/slave through the standby: %d %v, want [\"%d\"]", code, pids, victim.PID)
	}
	waitReplaced(t, a, victim, 30*time.Second)
	a.WaitShape(1, 15*time.Second)
	for deadline := time.Now().Add(5 * time.Second); workerIDs(a.Workers()) != workerIDs(b.Workers()); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the replacement: a sees %s, b %s", workerIDs(a.Workers()), workerIDs(b.Workers()))
		}
	}
	before := b.Workers()

	// The supervisor stops (its session ends with it): b takes over.
	stopped := time.Now()
	a.StopOrchestrator()
	var took time.Duration
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r := role(t, b); r.Role == api.RoleSupervising && r.Supervisor == "orch-b" {
			took = time.Since(stopped)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b does not supervise 10s after a stopped: %+v", role(t, b))
		}
	}
	t.Logf("takeover: orch-b supervises %v after orch-a stopped", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("takeover took %v, want within 5s", took)
	}
	if now := b.Workers(); workerIDs(now) != workerIDs(before) {
		t.Fatalf("the takeover changed the workers: before %s, after %s", workerIDs(before), workerIDs(now))
	}

	// A slave killed now is replaced by b.
	victim = slaves(b)[0]
	killed := time.Now()
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReplaced(t, b, victim, 30*time.Second)
	t.Logf("orch-b replaced the killed slave (pid %d) in %v (ready, serving)", victim.PID, time.Since(killed).Round(time.Millisecond))
	b.WaitShape(1, 15*time.Second)
	writeVia(t, b, b, "after-takeover")
}

// The supervisor scales on the reads of every orchestrator: reads sent only
// to the standby reach the supervisor's scaler as the standby's tallies, so
// it scales out (counting its own reads alone, it saw none and kept one
// slave), and back in after an idle interval.
func TestStandbyReadsScaleTheSupervisor(t *testing.T) {
	a := stacktest.Start(t, stacktest.Options{Slaves: 1, ScaleInterval: 4 * time.Second,
		Edit: func(c *config.Config) { c.Orchestrator.ID = "orch-a" }})
	b := startSecondOrchestrator(t, a, "orch-b")
	if r := role(t, b); r.Role != api.RoleStandby {
		t.Fatalf("b's role: %+v, want standing by", r)
	}
	for i := 0; i < 45; i++ {
		if _, code := b.Read(dbapi.ReadRequest{Table: "users"}); code != 200 {
			t.Fatalf("read %d through the standby: %d", i, code)
		}
	}
	a.WaitShape(3, 15*time.Second)
	t.Logf("45 reads through the standby → the supervisor runs 3 slaves")
	sent := metric(t, b, `rideshare_read_tallies_total{direction="sent"}`)
	received := metric(t, a, `rideshare_read_tallies_total{direction="received"}`)
	if sent != "45" || received != "45" {
		t.Fatalf("read tallies: the standby sent %s, the supervisor received %s; want 45 and 45", sent, received)
	}
	a.WaitShape(1, 20*time.Second)
	t.Logf("idle interval → 1 slave")
}

// waitReplaced waits until s shows 1 master + 1 slave, all ready, none of
// them victim.
func waitReplaced(t *testing.T, s *stacktest.Stack, victim api.WorkerInfo, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		ws := s.Workers()
		replaced := len(ws) == 2
		for _, w := range ws {
			if w.PID == victim.PID || !w.Ready {
				replaced = false
			}
		}
		if replaced {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slave %s (pid %d) not replaced (seen through %s): %+v", victim.ID, victim.PID, s.URL, ws)
		}
	}
}

// startOrchestratorProcess runs `rideshare orchestrator` with id on s's
// stack as a process of its own (so the test can kill -9 it): hcl/local.hcl
// with the id and a free port, and s's -var settings.
func startOrchestratorProcess(t *testing.T, s *stacktest.Stack, id string) (*stacktest.Stack, *exec.Cmd) {
	t.Helper()
	root, err := stacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "hcl", "local.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const listen = `listen      = "127.0.0.1:8083"`
	if !strings.Contains(string(src), listen) {
		t.Fatalf("hcl/local.hcl has no %s", listen)
	}
	hcl := strings.Replace(string(src), listen, fmt.Sprintf("id = %q\n  listen = %q", id, addr), 1)
	file := filepath.Join(s.Dir, "orchestrator-"+id+".hcl")
	if err := os.WriteFile(file, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"orchestrator", "-config", file}
	for _, v := range s.Vars {
		args = append(args, "-var", v)
	}
	logf, err := os.Create(filepath.Join(s.Dir, "orchestrator-"+id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(stacktest.Binary(t), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	cfg := *s.Config
	cfg.Orchestrator.ID, cfg.Orchestrator.Listen = id, addr
	p := stacktest.Attach(t, "http://"+addr, &cfg, s.Dir)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := p.API().Status(context.Background()); err == nil {
			return p, cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("orchestrator %s (pid %d) does not answer after 30s; its log is %s", id, cmd.Process.Pid, logf.Name())
		}
	}
}

// TestKilledSupervisorIsSucceeded kills -9 the supervising orchestrator: its
// session is not closed, so the standby supervises once the session
// expires (the target: within 5 s), then replaces a killed slave.
func TestKilledSupervisorIsSucceeded(t *testing.T) {
	a := stacktest.Start(t, stacktest.Options{Slaves: 1, KeepWorkers: true,
		Edit: func(c *config.Config) { c.Orchestrator.ID = "orch-a" }})
	c, cmd := startOrchestratorProcess(t, a, "orch-c")
	if r := role(t, c); r.Role != api.RoleStandby || r.Supervisor != "orch-a" {
		t.Fatalf("orch-c: %+v, want standing by behind orch-a", r)
	}
	// orch-a hands over to orch-c (a stop), and orch-b stands by behind it.
	a.StopOrchestrator()
	for deadline := time.Now().Add(10 * time.Second); role(t, c).Role != api.RoleSupervising; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("orch-c does not supervise after orch-a stopped: %+v", role(t, c))
		}
	}
	b := startSecondOrchestrator(t, a, "orch-b")
	if r := role(t, b); r.Role != api.RoleStandby || r.Supervisor != "orch-c" {
		t.Fatalf("orch-b: %+v, want standing by behind orch-c", r)
	}
	before := workerIDs(b.Workers())

	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var took time.Duration
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r := role(t, b); r.Role == api.RoleSupervising {
			took = time.Since(killed)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orch-b does not supervise 20s after orch-c was killed: %+v", role(t, b))
		}
	}
	t.Logf("takeover after kill -9: orch-b supervises %v after orch-c was killed (session timeout %v)",
		took.Round(time.Millisecond), a.Config.ZooKeeper.SessionTimeout)
	if took > 5*time.Second {
		t.Errorf("takeover took %v, want within 5s", took)
	}
	if now := workerIDs(b.Workers()); now != before {
		t.Fatalf("the takeover changed the workers: before %s, after %s", before, now)
	}
	writeVia(t, b, b, "after-kill")

	victim := slaves(b)[0]
	crashed := time.Now()
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReplaced(t, b, victim, 30*time.Second)
	t.Logf("orch-b replaced the killed slave (pid %d) in %v (ready, serving)", victim.PID, time.Since(crashed).Round(time.Millisecond))
}
