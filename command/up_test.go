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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/broker"
	"github.com/rideshare/dbaas/stacktest"
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
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := parentOf(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
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

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	return s[strings.LastIndexByte(s, ')')+2] != 'Z'
}

func TestUpServesAndLeavesNoProcessBehind(t *testing.T) {
	stacktest.RequireServices(t)
	bin := stacktest.Binary(t)
	dir := t.TempDir()
	cfg := upConfig(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A fresh deployment (its own ZooKeeper root) starts on an empty log,
	// as stacktest.Start does: an earlier test's log, or its syncQ declared
	// with other arguments, is not this test's business.
	if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "up", "-config", cfg,
		"-var", "data_dir="+filepath.Join(dir, "data"), "-var", "amqp_url="+stacktest.AMQPURL, "-var", "zk_root=/rideshare-test/up-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	// Ending the test (or its deadline) stops the stack as a user does, with
	// SIGTERM, so a failing test leaves no process for the next one to meet.
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
	defer func() {
		if cmd.ProcessState == nil { // failed before the SIGTERM below
			cancel()
			_ = cmd.Wait()
		}
	}()
	lines := bufio.NewScanner(out)
	ready := false
	var transcript []string
	for lines.Scan() {
		transcript = append(transcript, lines.Text())
		if strings.HasPrefix(lines.Text(), "ready:") {
			ready = true
			break
		}
	}
	go io.Copy(io.Discard, out)
	if !ready {
		t.Fatalf("rideshare up never became ready:\n%s", strings.Join(transcript, "\n"))
	}
	for _, part := range []string{"orchestrator", "users", "rides", "gateway"} {
		if !strings.Contains(strings.Join(transcript, "\n"), "✓ "+part) {
			t.Errorf("no progress line for %s in:\n%s", part, strings.Join(transcript, "\n"))
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
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rideshare up exited with %v after SIGTERM", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range procs {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(p) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			t.Errorf("process %d (%s) outlived rideshare up", p, strings.ReplaceAll(string(b), "\x00", " "))
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}
