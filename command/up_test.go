package command_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/procfs"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// upConfig is hcl/local.hcl on other ports, so the test does not collide with
// a `make run` on this machine.
func upConfig(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile("../hcl/local.hcl")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for from, to := range map[string]string{"8080": "18080", "8081": "18081", "8082": "18082", "8083": "18083"} {
		s = strings.ReplaceAll(s, "127.0.0.1:"+from, "127.0.0.1:"+to)
	}
	path := filepath.Join(dir, "up.hcl")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// descendants lists every live process below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range procfs.List() {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// upRun is a running `rideshare up` and everything it printed so far.
type upRun struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
}

// startUp runs `rideshare up` on upConfig with args added, on a fresh
// deployment, and waits until it printed "ready:". Ending ctx stops it as a
// user does, with SIGTERM, so a failing test leaves no process for the next
// one to meet.
func startUp(t *testing.T, ctx context.Context, args ...string) *upRun {
	t.Helper()
	stacktest.RequireServices(t)
	bin := stacktest.Binary(t)
	dir := t.TempDir()
	// A fresh deployment (its own ZooKeeper root) starts on an empty log,
	// as stacktest.Start does: an earlier test's log, or its syncQ declared
	// with other arguments, is not this test's business.
	if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"up", "-config", upConfig(t, dir),
		"-var", "data_dir=" + filepath.Join(dir, "data"), "-var", "amqp_url=" + stacktest.AMQPURL,
		"-var", "zk_root=/rideshare-test/up-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}, args...)
	u := &upRun{cmd: exec.CommandContext(ctx, bin, args...)}
	cmd := u.cmd
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // the test failed before stopping it
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			u.mu.Lock()
			u.lines = append(u.lines, lines.Text())
			u.mu.Unlock()
		}
	}()
	if !u.waitLine(func(l string) bool { return strings.HasPrefix(l, "ready:") }, 90*time.Second) {
		t.Fatalf("rideshare up never became ready:\n%s", u.output())
	}
	return u
}

func (u *upRun) output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return strings.Join(u.lines, "\n")
}

// waitLine waits until up printed a line for which match is true.
func (u *upRun) waitLine(match func(string) bool, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		u.mu.Lock()
		lines := u.lines
		u.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return true
			}
		}
		if u.cmd.ProcessState != nil {
			return false
		}
	}
	return false
}

// stop sends SIGTERM to up and waits for it to exit within limit.
func (u *upRun) stop(t *testing.T, limit time.Duration) {
	t.Helper()
	if err := u.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- u.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rideshare up exited with %v after SIGTERM:\n%s", err, u.output())
		}
	case <-time.After(limit):
		t.Fatalf("rideshare up still running %s after SIGTERM:\n%s", limit, u.output())
	}
}

// assertGone fails for every pid still alive shortly after up exited, and
// kills it.
func assertGone(t *testing.T, procs []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range procs {
		for procfs.Alive(p) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if procfs.Alive(p) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			t.Errorf("process %d (%s) outlived rideshare up", p, strings.ReplaceAll(string(b), "\x00", " "))
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

func TestUpServesAndLeavesNoProcessBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := startUp(t, ctx)
	cmd := u.cmd
	for _, part := range []string{"orchestrator", "users", "rides", "gateway"} {
		if !strings.Contains(u.output(), "✓ "+part) {
			t.Errorf("no progress line for %s in:\n%s", part, u.output())
		}
	}
	// The stack serves through the gateway.
	req, _ := http.NewRequest("PUT", "http://127.0.0.1:18080/api/v1/users",
		strings.NewReader(`{"username":"upcheck","password":"3d725109c7e7c0bfb9d709836735b56d943d263f"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT user through the gateway: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT user through the gateway: %d %s", resp.StatusCode, body)
	}

	// Wait for the workers (and their plugins) to be up, then stop.
	var procs []int
	for i := 0; i < 100; i++ {
		procs = descendants(cmd.Process.Pid)
		if len(procs) >= 6 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(procs) < 6 {
		t.Fatalf("want at least orchestrator, users, rides, gateway and 2 workers below up; have %v", procs)
	}
	time.Sleep(time.Second)
	procs = descendants(cmd.Process.Pid)
	t.Logf("%d processes below rideshare up", len(procs))
	u.stop(t, time.Minute)
	assertGone(t, procs)
}

// taskPID is the pid of up's task name (its child running `rideshare
// name …`), or 0.
func taskPID(up int, name string) int {
	for _, p := range procfs.List() {
		if p.PPID == up && len(p.Args) > 1 && p.Args[1] == name && procfs.Alive(p.PID) {
			return p.PID
		}
	}
	return 0
}

// upOrchestrator is the address of the test's orchestrator, and upAPI its
// client (one attempt per call: the tests poll).
const upOrchestrator = "http://127.0.0.1:18083"

var upAPI = api.NewClient(upOrchestrator, api.WithAttempts(1))

// upWorkers is GET /api/v1/workers on the test's orchestrator: the workers'
// pids, sorted, and whether every one serves. ok is false without an answer.
func upWorkers() (pids []int, ready, ok bool) {
	ws, err := upAPI.Workers(context.Background())
	if err != nil {
		return nil, false, false
	}
	ready = true
	for _, w := range ws {
		pids = append(pids, w.PID)
		ready = ready && w.Ready
	}
	sort.Ints(pids)
	return pids, ready, true
}

// eventually polls cond every 100 ms for up to timeout.
func eventually(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// answers: the request gets a 2xx answer; *last is what it got.
func answers(last *string, method, url, body string) bool {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		*last = err.Error()
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	*last = fmt.Sprintf("%d %s", resp.StatusCode, b)
	return resp.StatusCode/100 == 2
}

// TestUpRestartsFailedTasks kills tasks of a running `rideshare up` with
// SIGKILL: each is restarted; the orchestrator adopts the workers it left
// and takes writes again.
func TestUpRestartsFailedTasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	u := startUp(t, ctx, "-restart-delay", "100ms", "-restart-max-delay", "2s")
	up := u.cmd.Process.Pid

	workers := servingWorkers(t)
	orch := taskPID(up, "orchestrator")
	if orch == 0 {
		t.Fatalf("no orchestrator task below up (pid %d)", up)
	}
	procs := append(descendants(up), workers...) // all must end with up

	// The orchestrator, killed, comes back and adopts the same workers.
	if err := syscall.Kill(orch, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !u.waitLine(func(l string) bool {
		return l == "  ↻ orchestrator exited (code 137); restarting in 100ms (restart 1)"
	}, 30*time.Second) {
		t.Fatalf("no restart line for the orchestrator in:\n%s", u.output())
	}
	if !u.waitLine(func(l string) bool {
		return strings.HasPrefix(l, "  ✓ orchestrator back (pid ") && l != fmt.Sprintf("  ✓ orchestrator back (pid %d)", orch)
	}, 60*time.Second) {
		t.Fatalf("the orchestrator is not back:\n%s", u.output())
	}
	var now []int
	if !eventually(60*time.Second, func() bool {
		now, _, _ = upWorkers()
		return slices.Equal(now, workers)
	}) {
		t.Fatalf("the restarted orchestrator lists workers %v; before its restart: %v", now, workers)
	}
	t.Logf("orchestrator %d killed; its successor lists the same workers %v", orch, now)
	var last string
	write := fmt.Sprintf(`{"table":"users","op":"insert","values":{"username":"after-restart-%d","password":"p"}}`, time.Now().UnixNano())
	if !eventually(30*time.Second, func() bool { return answers(&last, "POST", upOrchestrator+api.RouteDBWrite, write) }) {
		t.Fatalf("write after the orchestrator's restart: %s", last)
	}

	// The gateway and users, killed together, come back and serve together.
	for _, name := range []string{"gateway", "users"} {
		pid := taskPID(up, name)
		if pid == 0 {
			t.Fatalf("no %s task below up", name)
		}
		procs = append(procs, pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"gateway", "users"} {
		if !u.waitLine(func(l string) bool { return strings.HasPrefix(l, "  ↻ "+name+" exited (code 137); restarting in ") }, 30*time.Second) ||
			!u.waitLine(func(l string) bool { return strings.HasPrefix(l, "  ✓ "+name+" back (pid ") }, 60*time.Second) {
			t.Fatalf("%s was not restarted:\n%s", name, u.output())
		}
	}
	for _, url := range []string{"http://127.0.0.1:18080/healthz", "http://127.0.0.1:18081/healthz"} {
		if !eventually(30*time.Second, func() bool { return answers(&last, "GET", url, "") }) {
			t.Fatalf("GET %s: %s", url, last)
		}
	}
	if !eventually(30*time.Second, func() bool {
		return answers(&last, "PUT", "http://127.0.0.1:18080/api/v1/users",
			`{"username":"upback","password":"3d725109c7e7c0bfb9d709836735b56d943d263f"}`)
	}) {
		t.Fatalf("PUT user through the restarted gateway and users: %s", last)
	}
	t.Logf("rideshare up printed:\n%s", u.output())

	procs = append(procs, descendants(up)...)
	u.stop(t, time.Minute)
	assertGone(t, procs)
}

// TestUpStopsWhileARestartWaits: SIGTERM while a killed task waits for its
// restart stops everything and does not start the task again.
func TestUpStopsWhileARestartWaits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	u := startUp(t, ctx, "-restart-delay", "1m", "-restart-max-delay", "1m")
	up := u.cmd.Process.Pid
	users := taskPID(up, "users")
	if users == 0 {
		t.Fatalf("no users task below up (pid %d)", up)
	}
	workers := servingWorkers(t)
	procs := append(descendants(up), workers...)
	if err := syscall.Kill(users, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !u.waitLine(func(l string) bool {
		return l == "  ↻ users exited (code 137); restarting in 1m0s (restart 1)"
	}, 30*time.Second) {
		t.Fatalf("no restart line for users in:\n%s", u.output())
	}
	u.stop(t, time.Minute)
	assertGone(t, procs)
	if strings.Contains(u.output(), "users back") {
		t.Errorf("users started again while up stopped:\n%s", u.output())
	}
}

// servingWorkers waits for the stack's workers to serve (a master and a
// slave at least, all ready) and returns their pids.
func servingWorkers(t *testing.T) []int {
	t.Helper()
	var workers []int
	if !eventually(60*time.Second, func() bool {
		pids, ready, _ := upWorkers()
		workers = pids
		return ready && len(pids) >= 2
	}) {
		t.Fatalf("want at least 2 serving workers; have %v", workers)
	}
	return workers
}
