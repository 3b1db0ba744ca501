package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// Ports of the suite's stack: away from `make run` (808x) and command's
// up test (1808x), so all three can run on one machine.
var ports = map[string]string{"8080": "28080", "8081": "28081", "8082": "28082", "8083": "28083"}

// Up is a `rideshare up` child process serving hcl/local.hcl on the suite's
// ports, with the built-in plugins as subprocesses (so plugin crashes can
// be injected) and its data dir on a small tmpfs (so it can be filled).
type Up struct {
	Cfg     *config.Config
	URL     string // orchestrator base URL
	DataDir string // the tmpfs
	Slaves  int    // the shape the stack keeps: 1 master + Slaves

	cmd  *exec.Cmd
	file string   // the edited config
	vars []string // -var settings
	done chan struct{}
}

// StartUp mounts the tmpfs, writes the config, starts `rideshare up` and
// waits for its "ready:" line and the shape; the test's cleanup stops it
// with SIGTERM and unmounts the tmpfs.
func StartUp(t *testing.T, bin string) *Up {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// 256 MiB: room for the worker databases and logs of a whole run, small
	// enough that the disk-full fault fills it in a second.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", data, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("RIDESHARE_KEEP_STACK") != "" { // as stacktest keeps its stacks
			keepLogs(t, data)
		}
		if out, err := exec.Command("umount", "-l", data).CombinedOutput(); err != nil {
			t.Logf("unmount %s: %v: %s", data, err, out)
		}
	})
	u := &Up{DataDir: data, file: filepath.Join(dir, "up.hcl")}
	if err := writeConfig(u.file); err != nil {
		t.Fatal(err)
	}
	u.start(t, bin)
	return u
}

// writeConfig copies hcl/local.hcl to path on the suite's ports with
// `builtin_plugins = "subprocess"`.
func writeConfig(path string) error {
	src, err := os.ReadFile("../../hcl/local.hcl")
	if err != nil {
		return fmt.Errorf("read the shipped config: %w", err)
	}
	s := string(src)
	for from, to := range ports {
		s = strings.ReplaceAll(s, "127.0.0.1:"+from, "127.0.0.1:"+to)
	}
	const anchor = "stack      = var.stack\n"
	if !strings.Contains(s, anchor) {
		return fmt.Errorf("hcl/local.hcl: no line %q to put builtin_plugins after", anchor)
	}
	s = strings.Replace(s, anchor, anchor+"builtin_plugins = \"subprocess\"\n", 1)
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}

// start runs `rideshare up` on a fresh ZooKeeper root and an empty
// replication log, as stacktest.Start does for its stacks.
func (u *Up) start(t *testing.T, bin string) {
	t.Helper()
	u.vars = []string{
		"data_dir=" + u.DataDir,
		"zk_root=/rideshare-test/faults-" + randomName(),
		"amqp_url=" + stacktest.AMQPURL,
		fmt.Sprintf("zk_servers=[%q]", stacktest.ZKAddr),
		"scale_interval=1h", // the shape stays what the faults expect
	}
	cfg, err := config.Load(u.file, u.vars)
	if err != nil {
		t.Fatalf("load %s: %v", u.file, err)
	}
	u.Cfg, u.URL, u.Slaves = cfg, "http://"+cfg.Orchestrator.Listen, max(cfg.Scaling.MinSlaves, cfg.Orchestrator.Slaves)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := broker.Reset(ctx, cfg.AMQPURL); err != nil {
		t.Fatalf("reset queues on %s: %v", cfg.AMQPURL, err)
	}
	// `up` restarts a crashed orchestrator: soon, so that the orchestrator
	// faults measure the system rather than a backoff.
	args := []string{"up", "-config", u.file, "-restart-delay", "500ms"}
	for _, v := range u.vars {
		args = append(args, "-var", v)
	}
	// Its output goes to a file, not a pipe: if this test process dies, up
	// must still be able to say "stopping…" (to a pipe it would die of
	// SIGPIPE first and leave its tasks running). Pdeathsig stops it then.
	logPath := filepath.Join(filepath.Dir(u.file), "up.out")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	start, _ := logf.Seek(0, io.SeekEnd)
	u.cmd = exec.Command(bin, args...)
	u.cmd.Stdout, u.cmd.Stderr = logf, logf
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := u.cmd.Start(); err != nil {
		t.Fatalf("start rideshare up: %v", err)
	}
	u.done = make(chan struct{})
	go func() { _ = u.cmd.Wait(); close(u.done) }()
	t.Cleanup(u.stop)
	err = waitFor(90*time.Second, "rideshare up to say ready", func() bool {
		b, _ := os.ReadFile(logPath)
		return int64(len(b)) > start && strings.Contains(string(b[start:]), "\nready:") || !u.Running()
	})
	if b, _ := os.ReadFile(logPath); err != nil || !u.Running() {
		t.Fatalf("rideshare up never became ready (%v):\n%s", err, b[start:])
	}
	stacktest.Attach(t, u.URL, u.Cfg, u.DataDir).WaitShape(u.Slaves, 60*time.Second)
}

// Running reports whether `rideshare up` is still running.
func (u *Up) Running() bool {
	select {
	case <-u.done:
		return false
	default:
		return true
	}
}

// Restart starts a new `rideshare up` after the last one exited (it must
// not: `up` restarts its tasks), on a wiped data dir, so that the faults
// after the one that ended it still run.
func (u *Up) Restart(t *testing.T, bin string) {
	t.Helper()
	entries, _ := os.ReadDir(u.DataDir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(u.DataDir, e.Name()))
	}
	u.start(t, bin)
}

// stop ends up as a user does (SIGTERM) and waits for it.
func (u *Up) stop() {
	if !u.Running() {
		return
	}
	_ = u.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-u.done:
	case <-time.After(60 * time.Second):
		_ = u.cmd.Process.Kill()
		<-u.done
	}
}

// PID is up's own process id.
func (u *Up) PID() int { return u.cmd.Process.Pid }

// Answering reports whether the orchestrator's API answers.
func (u *Up) Answering() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(u.URL + api.RouteWorkers)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func randomName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// keepLogs copies the stack's logs off the tmpfs, which goes away with the
// test, so a failure can be looked into.
func keepLogs(t *testing.T, data string) {
	dst, err := os.MkdirTemp("", "rideshare-faults-logs-")
	if err != nil {
		t.Logf("keep logs: %v", err)
		return
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(data, "logs"), dst).CombinedOutput(); err != nil {
		t.Logf("keep logs of %s: %v: %s", data, err, out)
		return
	}
	t.Logf("stack logs kept in %s", dst)
}
