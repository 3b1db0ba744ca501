package docker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/docker"
)

// The log of a worker is kept at Spec.LogPath once its container is gone:
// killed with SIGKILL (a crash), stopped, or found exited by a later
// Runtime. Each run appends, as the process runtime does.
func TestLogKeptAfterRemoval(t *testing.T) {
	requireEngine(t)
	_, newRuntime := newStack(t, nil)
	rt := newRuntime(t)
	ctx := context.Background()
	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "logs", "w.log") // the directory does not exist yet
	id := fmt.Sprintf("logs-%d", time.Now().UnixNano())

	run := func(stop func() error, wantCode int, wantLines ...string) runtime.Handle {
		t.Helper()
		h, err := rt.Start(ctx, runtime.Spec{ID: id, Args: []string{"run-" + fmt.Sprint(len(wantLines))}, LogPath: logPath})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Kill(context.Background(), id) })
		c, err := cli.ContainerInspect(ctx, docker.NamePrefix+id)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Config.Labels[docker.LabelLogPath]; got != logPath {
			t.Errorf("label %s = %q, want %q", docker.LabelLogPath, got, logPath)
		}
		started := fmt.Sprintf("testworker pid=%d args=", h.PID)
		waitFor(t, func() bool { return strings.Contains(containerLog(t, id), started) }, "the worker to print %q", started)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-exits:
			if e.ID != id || e.ExitCode != wantCode {
				t.Errorf("Exit = %+v, want %s code %d", e, id, wantCode)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no Exit")
		}
		// The log is complete once the container is gone.
		check := func(when string) {
			t.Helper()
			data, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatalf("the worker's log %s: %v", when, err)
			}
			for _, want := range append([]string{started}, wantLines...) {
				if strings.Count(string(data), want) != 1 {
					t.Errorf("log %s %s: want %q once:\n%s", logPath, when, want, data)
				}
			}
		}
		waitFor(t, func() bool {
			_, err := cli.ContainerInspect(ctx, docker.NamePrefix+id)
			return errdefs.IsNotFound(err)
		}, "container %s%s to be removed", docker.NamePrefix, id)
		check("after its container was removed")
		return h
	}

	// kill -9: the worker prints nothing more, its log so far is kept.
	first := run(func() error { return rt.Kill(ctx, id) }, 137)
	// A stop: what it prints on its way out is kept too, after the first run's.
	second := run(func() error { return rt.Stop(ctx, id, 10*time.Second) }, 0, "got terminated, exiting 0")
	data, _ := os.ReadFile(logPath)
	a := strings.Index(string(data), fmt.Sprintf("testworker pid=%d", first.PID))
	b := strings.Index(string(data), fmt.Sprintf("testworker pid=%d", second.PID))
	if a < 0 || b < a {
		t.Errorf("log %s: want the killed run's output, then the stopped one's:\n%s", logPath, data)
	}
}

// A container that exited while no Runtime watched (its orchestrator was
// down) is reported and removed by the next Runtime, which keeps its log.
func TestLogKeptForExitSeenLater(t *testing.T) {
	requireEngine(t)
	stack, newRuntime := newStack(t, nil)
	logPath := filepath.Join(t.TempDir(), "w.log")
	id := fmt.Sprintf("later-%d", time.Now().UnixNano())
	ctx := context.Background()

	firstCtx, stopFirst := context.WithCancel(ctx)
	defer stopFirst()
	first, err := docker.New(firstCtx, runtime.Config{Options: map[string]string{"image": testImage, "stack": stack}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Start(ctx, runtime.Spec{ID: id, Args: []string{"-exit-after", "3s", "-exit-code", "3", "later"}, LogPath: logPath}); err != nil {
		t.Fatal(err)
	}
	stopFirst() // nobody watches the worker now
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := cli.ContainerInspect(ctx, docker.NamePrefix+id)
		if err != nil {
			t.Fatalf("the exited worker's container is gone before a Runtime saw it: %v", err)
		}
		if !c.State.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not exit by itself")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Start made the file; nothing is in it while no Runtime saw the exit.
	if b, err := os.ReadFile(logPath); err != nil || len(b) != 0 {
		t.Fatalf("log %s before any Runtime saw the exit: %q, %v; want it empty", logPath, b, err)
	}

	later := newRuntime(t)
	exits, err := later.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.ID != id || e.ExitCode != 3 {
			t.Errorf("Exit = %+v, want %s code 3", e, id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no Exit from the later Runtime")
	}
	waitFor(t, func() bool {
		_, err := cli.ContainerInspect(ctx, docker.NamePrefix+id)
		return errdefs.IsNotFound(err)
	}, "container %s%s to be removed", docker.NamePrefix, id)
	data, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(data), "exiting 3 by itself") {
		t.Fatalf("log %s after the later Runtime removed the container: %q, %v", logPath, data, err)
	}
}
