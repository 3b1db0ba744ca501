package plugintest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/pluginhost"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// pythonPython runs examples/python-runtime: Debian's python3, whose
// python3-grpcio and python3-protobuf packages the plugin needs.
const pythonPython = "/usr/bin/python3"

// TestPythonRuntimePlugin: the runtime contract is language-neutral. A
// plugin written in Python (examples/python-runtime, Debian's python3-grpcio)
// installed as rideshare-runtime-python in a plugin dir is run by the real
// plugin host and starts, lists, stops and kills real processes, streams
// their exits, and an unknown id comes back as runtime.ErrNotFound.
func TestPythonRuntimePlugin(t *testing.T) {
	if out, err := exec.Command(pythonPython, "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import grpc and protobuf (apt-get install python3-grpcio python3-protobuf; make services installs them): %v\n%s", pythonPython, err, out)
	}
	src, err := filepath.Abs("../../examples/python-runtime/plugin.py")
	if err != nil {
		t.Fatal(err)
	}
	dir, state := t.TempDir(), t.TempDir()
	exe := filepath.Join(dir, pluginhost.ExecutableName(pluginhost.KindRuntime, "python"))
	script := "#!/bin/sh\nexec " + pythonPython + " " + src + " \"$@\"\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host log:\n%s", logs.String())
		}
	})
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: logs})
	rt, closer, err := pluginhost.LoadRuntime(ctx, "python", runtime.Config{Binary: "/bin/sleep", StateDir: state},
		pluginhost.LoadOptions{PluginDir: dir, Logger: logger})
	if err != nil {
		t.Fatalf("LoadRuntime: %v", err)
	}
	defer closer.Close()
	// The host runs the Python program, not a built-in.
	if ps := children(os.Getpid(), "python-runtime/plugin.py"); len(ps) != 1 {
		t.Fatalf("python plugin processes under the host: %+v, want one", ps)
	}

	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatalf("Exits: %v", err)
	}
	logPath := filepath.Join(state, "w1.log")
	h1, err := rt.Start(ctx, runtime.Spec{ID: "w1", Args: []string{"30"}, Env: map[string]string{"PYPLUGIN_MARK": "w1"}, LogPath: logPath})
	if err != nil {
		t.Fatalf("Start w1: %v", err)
	}
	if h1.ID != "w1" || h1.PID <= 0 || time.Since(h1.StartedAt) > time.Minute {
		t.Fatalf("Start w1 = %+v", h1)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(h1.PID) + "/environ")
	if err != nil {
		t.Fatalf("worker w1 (pid %d) is not running: %v", h1.PID, err)
	}
	if !slices.Contains(strings.Split(string(environ), "\x00"), "PYPLUGIN_MARK=w1") {
		t.Errorf("worker w1's environment lacks the spec's env")
	}
	if _, err := os.Stat(logPath); err != nil {
		t.Errorf("log_path: %v", err)
	}
	h2, err := rt.Start(ctx, runtime.Spec{ID: "w2", Args: []string{"30"}})
	if err != nil {
		t.Fatalf("Start w2: %v", err)
	}

	hs, err := rt.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[string]int{}
	for _, h := range hs {
		got[h.ID] = h.PID
	}
	if len(got) != 2 || got["w1"] != h1.PID || got["w2"] != h2.PID {
		t.Fatalf("List = %+v, want w1 (pid %d) and w2 (pid %d)", hs, h1.PID, h2.PID)
	}

	waitExit := func(id string, pid int) {
		t.Helper()
		select {
		case e, ok := <-exits:
			if !ok {
				t.Fatalf("exits channel closed, waiting for %s", id)
			}
			if e.ID != id || e.PID != pid || e.At.IsZero() {
				t.Fatalf("exit = %+v, want %s pid %d", e, id, pid)
			}
		case <-ctx.Done():
			t.Fatalf("no exit of %s", id)
		}
	}
	if err := rt.Kill(ctx, "w2"); err != nil {
		t.Fatalf("Kill w2: %v", err)
	}
	waitExit("w2", h2.PID)
	if err := rt.Stop(ctx, "w1", 2*time.Second); err != nil {
		t.Fatalf("Stop w1: %v", err)
	}
	waitExit("w1", h1.PID)

	if err := rt.Stop(ctx, "nobody", time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Stop of an unknown id = %v, want runtime.ErrNotFound", err)
	}
	if err := rt.Kill(ctx, "nobody"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Kill of an unknown id = %v, want runtime.ErrNotFound", err)
	}
	if hs, err := rt.List(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("List after both ended = %+v, %v", hs, err)
	}
}

// lockedBuffer collects the host's log, written from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
