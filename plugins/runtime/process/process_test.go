package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
	"github.com/rideshare/dbaas/plugins/runtime/runtimetest"
)

var workerBin string

func TestMain(m *testing.M) {
	if os.Getenv(orchestratorEnv) != "" {
		os.Exit(fakeOrchestrator())
	}
	dir, err := os.MkdirTemp("", "process-runtime-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin, err = runtimetest.BuildWorker(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newFactory returns a constructor of runtimes sharing one state dir, each
// living until the test that asked for it ends.
func newFactory(t *testing.T) (stateDir string, newRuntime func(t *testing.T) runtime.Runtime) {
	stateDir = t.TempDir()
	return stateDir, func(t *testing.T) runtime.Runtime {
		return newProcessRuntime(t, stateDir)
	}
}

func newProcessRuntime(t *testing.T, stateDir string) *process.Runtime {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := runtimetest.Logger(t)
	rt, err := process.New(ctx, runtime.Config{Binary: workerBin, StateDir: stateDir}, log)
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	return rt
}

func TestContract(t *testing.T) {
	_, newRuntime := newFactory(t)
	runtimetest.Run(t, newRuntime, workerBin)
}

// TestProcessDetails checks what is specific to raw processes: the process
// group, the log file, and the state file's life cycle.
func TestProcessDetails(t *testing.T) {
	stateDir, _ := newFactory(t)
	rt := newProcessRuntime(t, stateDir)
	ctx := context.Background()
	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Exits(ctx); err == nil {
		t.Error("a second concurrent Exits subscription succeeded")
	}
	logPath := filepath.Join(t.TempDir(), "nested", "dir", "w.log")
	h, err := rt.Start(ctx, runtime.Spec{ID: "details", Args: []string{"hello"}, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-h.PID, syscall.SIGKILL) })

	if pgid, err := syscall.Getpgid(h.PID); err != nil || pgid != h.PID {
		t.Errorf("worker pgid = %d, %v; want its own group %d", pgid, err, h.PID)
	}
	statePath := filepath.Join(stateDir, "workers", "details.json")
	var st map[string]any
	if b, err := os.ReadFile(statePath); err != nil {
		t.Fatalf("state file: %v", err)
	} else if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state file: %v", err)
	}
	if st["pid"] != float64(h.PID) || st["id"] != "details" || st["start_ticks"] == float64(0) {
		t.Errorf("state file = %v, want id, pid %d and start ticks", st, h.PID)
	}

	want := fmt.Sprintf("testworker pid=%d", h.PID)
	waitFor(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), want)
	}, "log file %s to contain %q", logPath, want)

	if err := rt.Stop(ctx, "details", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.ID != "details" || e.ExitCode != 0 {
			t.Errorf("Exit = %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Exit")
	}
	if _, err := os.Stat(statePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file after exit: %v, want it removed", err)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), "got terminated") {
		t.Errorf("log lacks the SIGTERM line: %q", b)
	}
}

// TestStaleStateFile: a state file whose process is gone (or whose pid was
// reused by another process) is neither listed nor adopted; it is removed
// and reported as an Exit with code -1.
func TestStaleStateFile(t *testing.T) {
	stateDir, _ := newFactory(t)
	dir := filepath.Join(stateDir, "workers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Our own pid with a wrong start time: a reused pid.
	stale := fmt.Sprintf(`{"id":"stale","pid":%d,"started_at":"2020-01-01T00:00:00Z","start_ticks":1}`, os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, "stale.json"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := newProcessRuntime(t, stateDir)
	hs, err := rt.List(context.Background())
	if err != nil || len(hs) != 0 {
		t.Errorf("List = %v, %v; want nothing", hs, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale state file kept: %v", err)
	}
	if err := rt.Kill(context.Background(), "stale"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Kill(stale) = %v, want ErrNotFound", err)
	}
	exits, _ := rt.Exits(context.Background())
	select {
	case e := <-exits:
		if e.ID != "stale" || e.ExitCode != -1 {
			t.Errorf("Exit = %+v, want stale with code -1", e)
		}
	case <-time.After(time.Second):
		t.Error("no Exit for the stale worker")
	}
}

// orchestratorEnv makes the test binary play an orchestrator that starts
// one worker and exits without stopping it (TestAdoptAfterOrchestratorExit).
const orchestratorEnv = "PROCESS_RUNTIME_TEST_ORCHESTRATOR"

func fakeOrchestrator() int {
	var cfg runtime.Config
	if err := json.Unmarshal([]byte(os.Getenv(orchestratorEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rt, err := process.New(context.Background(), cfg, hclog.NewNullLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h, err := rt.Start(context.Background(), runtime.Spec{ID: "orphaned", Args: []string{"x"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(h.PID)
	return 0
}

// TestAdoptAfterOrchestratorExit is a real orchestrator restart: another
// process starts a worker and exits; the worker lives on (reparented), and a
// new Runtime adopts it and reports its exit after Kill.
func TestAdoptAfterOrchestratorExit(t *testing.T) {
	stateDir, _ := newFactory(t)
	cfg, _ := json.Marshal(runtime.Config{Binary: workerBin, StateDir: stateDir})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), orchestratorEnv+"="+string(cfg))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fake orchestrator: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("fake orchestrator printed %q", out)
	}
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("worker %d did not outlive its orchestrator: %v", pid, err)
	}

	rt := newProcessRuntime(t, stateDir)
	exits, err := rt.Exits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hs, err := rt.List(context.Background())
	if err != nil || len(hs) != 1 || hs[0].ID != "orphaned" || hs[0].PID != pid {
		t.Fatalf("List = %+v, %v; want the orphaned worker pid %d", hs, err, pid)
	}
	if err := rt.Kill(context.Background(), "orphaned"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.ID != "orphaned" || e.PID != pid || (e.ExitCode != 137 && e.ExitCode != -1) {
			t.Errorf("Exit = %+v, want orphaned pid %d code 137 (or -1)", e, pid)
		}
		t.Logf("adopted worker's exit: %+v", e)
	case <-time.After(10 * time.Second):
		t.Fatal("no Exit for the adopted worker")
	}
	if hs, _ := rt.List(context.Background()); len(hs) != 0 {
		t.Errorf("List after exit = %+v", hs)
	}
}

func TestBadID(t *testing.T) {
	stateDir, _ := newFactory(t)
	rt := newProcessRuntime(t, stateDir)
	for _, id := range []string{"", "..", "a/b"} {
		if _, err := rt.Start(context.Background(), runtime.Spec{ID: id}); err == nil {
			t.Errorf("Start(%q) succeeded", id)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOptions: the options every runtime receives from the deployment are
// accepted; any other key is refused by New, naming it and the plugin.
func TestOptions(t *testing.T) {
	documented := map[string]string{"data_dir": t.TempDir(), "stack": "s"}
	if err := process.ValidateOptions(documented); err != nil {
		t.Fatalf("documented options %v: %v", documented, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := process.New(ctx, runtime.Config{Binary: workerBin, StateDir: t.TempDir(), Options: documented}, nil)
	if err != nil || rt == nil {
		t.Fatalf("New with the documented options: %v", err)
	}
	_, err = process.New(ctx, runtime.Config{Binary: workerBin, StateDir: t.TempDir(), Options: map[string]string{"image": "x"}}, nil)
	want := `runtime "process": unknown option "image" (accepted: data_dir, stack)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New with an unknown option: err = %v, want %s", err, want)
	}
}
