package plugintest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/internal/wiring"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
)

// What examples/runtime-labelled does to each worker it starts.
const (
	labelEnv   = "RIDESHARE_WORKER_LABEL=labelled"
	markerDir  = "labelled"
	labelledRT = "labelled"
)

// TestThirdPartyRuntimePlugin: a runtime that is not built into rideshare —
// examples/runtime-labelled, a separate binary calling pluginhost.ServeRuntime —
// installed in the default plugin_dir (${data_dir}/plugins) and chosen in
// the deployment file with runtime "labelled" {}, runs a working stack: 1 master + 1 slave, writes
// and reads, and every worker (the replacement of a crashed slave too) was
// started by it: a child of that plugin process, with its label in its
// environment and its marker file.
func TestThirdPartyRuntimePlugin(t *testing.T) {
	src := labelledPlugin(t)
	var pluginPath, stateDir string
	// Registered before the stack's own cleanup, so it runs after it: the
	// stack's leftover sweep knows only built-in runtimes.
	t.Cleanup(func() { killLeftovers(t, stateDir) })
	s := stacktest.Start(t, stacktest.Options{Config: configWithRuntime(t, labelledRT), Slaves: 1, Edit: func(c *config.Config) {
		if want := filepath.Join(c.DataDir, "plugins"); c.PluginDir != want {
			t.Errorf("plugin_dir = %q, want the default %q", c.PluginDir, want)
		}
		if c.Runtime.Name != labelledRT {
			t.Errorf("runtime = %q, want %q from the deployment file", c.Runtime.Name, labelledRT)
		}
		pluginPath = install(t, src, c.PluginDir)
		stateDir = wiring.RuntimeConfig(c, "").StateDir
	}})

	// The orchestrator (this process) runs the third-party binary, not the
	// built-in process runtime.
	plug := onlyChild(t, os.Getpid(), pluginPath)
	if ps := children(os.Getpid(), " plugin runtime "); len(ps) != 0 {
		t.Fatalf("a built-in runtime plugin runs beside the third-party one: %+v", ps)
	}
	t.Logf("third-party runtime plugin: pid %d: %s", plug.pid, plug.cmdline)

	l := stacktest.NewLedger()
	for i := 0; i < 20; i++ {
		if code := l.Insert(s, fmt.Sprintf("labelled-%d", i)); code != 200 {
			t.Fatalf("write %d: status %d", i, code)
		}
	}
	_, seq := l.Acknowledged()
	readBack(t, s, "labelled-19", seq)
	l.Check(t, s)

	ws := s.Workers()
	checkLabelled(t, ws, plug.pid, stateDir)

	// A replacement worker is started by the same third-party runtime.
	slave := roleOf(t, s, "slave")
	var killed []string
	if code := s.Do("POST", api.RouteCrashSlave, nil, &killed); code != 200 || len(killed) != 1 || killed[0] != fmt.Sprint(slave.PID) {
		t.Fatalf("crash/slave: %d %v, want [\"%d\"]", code, killed, slave.PID)
	}
	waitFor(t, "a new slave", 30*time.Second, func() bool {
		for _, w := range s.Workers() {
			if w.Role == "slave" && w.ID != slave.ID {
				return true
			}
		}
		return false
	})
	s.WaitShape(1, 30*time.Second)
	after := s.Workers()
	checkLabelled(t, after, plug.pid, stateDir)
	if _, ok := workerByID(after, slave.ID); ok {
		t.Fatalf("crashed slave %s still listed: %+v", slave.ID, after)
	}
	if code := l.Insert(s, "labelled-after-crash"); code != 200 {
		t.Fatalf("write after crash/slave: status %d", code)
	}
	l.Check(t, s)

	// The plugin's own log lines reach the host's log through go-plugin.
	if n := len(logLines(filepath.Join(s.Dir, "orchestrator.log"), "labelled worker")); n < 3 {
		t.Errorf("orchestrator.log has %d \"labelled worker\" lines from the plugin, want ≥ 3 (2 workers + 1 replacement)", n)
	}
}

// checkLabelled proves each worker was started by the labelled runtime
// plugin (pid pluginPid): it is that process's child, its environment holds
// the label, and its marker file names its pid.
func checkLabelled(t *testing.T, ws []api.WorkerInfo, pluginPid int, stateDir string) {
	t.Helper()
	if len(ws) == 0 {
		t.Fatal("no workers")
	}
	for _, w := range ws {
		p, ok := readProc(w.PID)
		if !ok {
			t.Fatalf("worker %s pid %d is not running", w.ID, w.PID)
		}
		if p.ppid != pluginPid {
			t.Errorf("worker %s pid %d: parent is %d, want the labelled runtime plugin %d", w.ID, w.PID, p.ppid, pluginPid)
		}
		found := false
		for _, kv := range environ(t, w.PID) {
			found = found || kv == labelEnv
		}
		if !found {
			t.Errorf("worker %s pid %d: no %s in its environment", w.ID, w.PID, labelEnv)
		}
		marker := filepath.Join(stateDir, markerDir, w.ID)
		b, err := os.ReadFile(marker)
		if err != nil {
			t.Errorf("worker %s: marker file: %v", w.ID, err)
			continue
		}
		if !strings.Contains(string(b), "label=labelled\n") || !strings.Contains(string(b), fmt.Sprintf("pid=%d\n", w.PID)) {
			t.Errorf("worker %s pid %d: marker %s = %q", w.ID, w.PID, marker, b)
		}
	}
	if !t.Failed() {
		t.Logf("all %d workers carry the label and a marker, children of plugin pid %d", len(ws), pluginPid)
	}
}

// killLeftovers kills any worker still recorded in the process runtime's
// state dir (the labelled runtime keeps the process runtime's state files).
func killLeftovers(t *testing.T, stateDir string) {
	if stateDir == "" {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := process.New(ctx, runtime.Config{Binary: os.Args[0], StateDir: stateDir}, nil)
	if err != nil {
		return
	}
	hs, _ := rt.List(ctx)
	for _, h := range hs {
		t.Logf("killing leftover worker %s (pid %d)", h.ID, h.PID)
		_ = rt.Kill(ctx, h.ID)
	}
}

// TestBrokenPluginFailsOrchestratorStart: an executable in plugin_dir that
// is not a rideshare plugin (a shell script: no handshake) makes the
// orchestrator's start fail quickly with an error naming the executable,
// and leaves no process behind. Named like a built-in ("process"), it still
// wins over the built-in: plugin_dir comes first.
func TestBrokenPluginFailsOrchestratorStart(t *testing.T) {
	bin := stacktest.Binary(t)
	for _, name := range []string{"broken", "process"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := config.Load("hcl/local.hcl", []string{"data_dir=" + dir})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Runtime.Name = name
			if err := os.MkdirAll(cfg.PluginDir, 0o755); err != nil {
				t.Fatal(err)
			}
			script := filepath.Join(cfg.PluginDir, "rideshare-runtime-"+name)
			if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'I am not a rideshare plugin'\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			begin := time.Now()
			_, closeFn, err := wiring.NewOrchestrator(ctx, cfg, wiring.OrchestratorOptions{Binary: bin})
			took := time.Since(begin)
			if err == nil {
				closeFn()
				t.Fatalf("orchestrator started with %s in plugin_dir", script)
			}
			t.Logf("orchestrator start failed after %s: %v", took.Round(time.Millisecond), err)
			for _, want := range []string{script, fmt.Sprintf("runtime plugin %q", name), "handshake"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q: %v", want, err)
				}
			}
			if took > 20*time.Second {
				t.Errorf("failing the handshake took %s", took)
			}
			if ps := children(os.Getpid(), " plugin runtime "); len(ps) != 0 {
				t.Errorf("the built-in runtime was started instead of / beside %s: %+v", script, ps)
			}
			if ps := children(os.Getpid(), script); len(ps) != 0 {
				t.Errorf("the broken plugin is still running: %+v", ps)
			}
		})
	}
}

// TestBrokenPluginFailsOrchestratorCommand: the same through the binary an
// operator runs — `rideshare orchestrator -config <file>` whose file says
// runtime "broken" {} exits 1 at once, its message naming the executable.
func TestBrokenPluginFailsOrchestratorCommand(t *testing.T) {
	bin := stacktest.Binary(t)
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(plugins, "rideshare-runtime-broken")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'I am not a rideshare plugin'\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "orchestrator", "-config", configWithRuntime(t, "broken"),
		"-var", "data_dir="+dir, "-var", "amqp_url="+stacktest.AMQPURL,
		"-var", fmt.Sprintf("zk_servers=[%q]", stacktest.ZKAddr), "-var", "zk_root=/rideshare-test/broken-plugin")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	begin := time.Now()
	err := cmd.Run()
	took := time.Since(begin)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("rideshare orchestrator: %v (want exit status 1); stderr:\n%s", err, stderr.String())
	}
	t.Logf("exit 1 after %s", took.Round(time.Millisecond))
	msg := stderr.String()
	for _, want := range []string{"rideshare: ", script, `runtime plugin "broken"`, "handshake"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, msg)
		}
	}
	if took > 20*time.Second {
		t.Errorf("failing the handshake took %s", took)
	}
}
