package pluginhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/runtime"
)

func recvExit(t *testing.T, ch <-chan runtime.Exit) runtime.Exit {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("exits channel closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s")
	}
	return runtime.Exit{}
}

func TestRuntimeRoundTrip(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	rt, closer, err := LoadRuntime(ctx, "mem", runtime.Config{Binary: "/bin/true", StateDir: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()

	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := rt.Start(ctx, runtime.Spec{ID: "w1", Args: []string{"worker"}, Env: map[string]string{"A": "b"}, LogPath: "/tmp/x"})
	if err != nil {
		t.Fatal(err)
	}
	if h1.ID != "w1" || h1.PID <= 0 || h1.StartedAt.IsZero() {
		t.Fatalf("Start: bad handle %+v", h1)
	}
	h2, err := rt.Start(ctx, runtime.Spec{ID: "w2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Start(ctx, runtime.Spec{ID: "w1"}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("Start of a running id: want the plugin's error, got %v", err)
	}
	hs, err := rt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].ID != "w1" || hs[1].ID != "w2" || hs[0].PID != h1.PID || !hs[0].StartedAt.Equal(h1.StartedAt) {
		t.Fatalf("List = %+v, want [%+v %+v]", hs, h1, h2)
	}

	if err := rt.Kill(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if e := recvExit(t, exits); e.ID != "w1" || e.PID != h1.PID || e.ExitCode != 137 || e.At.IsZero() {
		t.Fatalf("exit after Kill = %+v", e)
	}
	if err := rt.Stop(ctx, "w2", time.Second); err != nil {
		t.Fatal(err)
	}
	if e := recvExit(t, exits); e.ID != "w2" || e.ExitCode != 0 {
		t.Fatalf("exit after Stop = %+v", e)
	}
	err = rt.Kill(ctx, "nope")
	if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Kill of an unknown id: want runtime.ErrNotFound naming it, got %v", err)
	}
	if err := rt.Stop(ctx, "nope", time.Second); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Stop of an unknown id: want runtime.ErrNotFound, got %v", err)
	}
	if hs, err := rt.List(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("List after both ended = %v, %v", hs, err)
	}

	// An Exits channel closes when its ctx is done.
	sub, cancel := context.WithCancel(ctx)
	ch, err := rt.Exits(sub)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("unexpected exit")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Exits channel not closed after its ctx was cancelled")
	}
}

func TestRuntimeConfigureErrorNamesPlugin(t *testing.T) {
	opts, _ := testOptions(t)
	_, _, err := LoadRuntime(testCtx(t), "mem", runtime.Config{Options: map[string]string{"fail": "no such engine"}}, opts)
	if err == nil {
		t.Fatal("Load succeeded with a failing factory")
	}
	for _, want := range []string{`runtime plugin "mem"`, "configure", "no such engine"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestRuntimeRestart kills the runtime plugin: List keeps working (the new
// process adopts the workers from its state dir), the Exits channel resumes,
// and a worker that ended while the plugin was down is reported.
func TestRuntimeRestart(t *testing.T) {
	opts, logs := testOptions(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	rt, closer, err := LoadRuntime(ctx, "mem", runtime.Config{StateDir: dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := rt.Start(ctx, runtime.Spec{ID: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := rt.Start(ctx, runtime.Spec{ID: "w2"})
	if err != nil {
		t.Fatal(err)
	}
	// w2 "dies" while the plugin is down: drop it from the state the next
	// process will adopt (this process does not write it again).
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(state, []byte(`[`+string(mustJSON(t, h1))+`]`), 0o644); err != nil {
		t.Fatal(err)
	}

	sup := rt.(*runtimeClient).sup
	old := sup.pid()
	sigkill(t, old)

	hs, err := rt.List(ctx)
	if err != nil {
		t.Fatalf("List after the plugin was killed: %v", err)
	}
	if len(hs) != 1 || hs[0].ID != "w1" || hs[0].PID != h1.PID {
		t.Fatalf("List after restart = %+v, want w1 adopted", hs)
	}
	if now := sup.pid(); now == old || !alive(now) {
		t.Fatalf("plugin pid after restart = %d (old %d)", now, old)
	}
	if e := recvExit(t, exits); e.ID != "w2" || e.PID != h2.PID || e.ExitCode != -1 {
		t.Fatalf("synthetic exit = %+v, want w2 with code -1", e)
	}
	// The Exits channel follows the new process.
	if err := rt.Kill(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if e := recvExit(t, exits); e.ID != "w1" || e.ExitCode != 137 {
		t.Fatalf("exit from the restarted plugin = %+v", e)
	}
	log := logs.String()
	if !strings.Contains(log, "restarting it") || !strings.Contains(log, "name=mem") || !strings.Contains(log, "kind=runtime") {
		t.Fatalf("restart not logged with the plugin's name:\n%s", log)
	}
}
