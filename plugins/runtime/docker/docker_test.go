package docker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/docker"
	"github.com/rideshare/dbaas/plugins/runtime/runtimetest"
)

var (
	cli       *client.Client
	workerBin string
	// noEngine is why no Docker engine answers, nil when one does: every
	// test of this package then fails, saying so (requireEngine), since a
	// runtime test that ran nothing must not pass.
	noEngine error
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	host := os.Getenv(client.EnvOverrideHost)
	if host == "" {
		host = client.DefaultDockerHost
	}
	var err error
	cli, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		host = cli.DaemonHost()
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = cli.Ping(pctx)
		pcancel()
	}
	if err != nil {
		cancel()
		noEngine = fmt.Errorf("no Docker engine answers at %s: %w", host, err)
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "docker-runtime-test")
	if err == nil {
		workerBin, err = buildTestImage(ctx, cli, dir)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireEngine fails t, naming why, when no Docker engine answers; every
// test that reaches the engine calls it first.
func requireEngine(t *testing.T) {
	t.Helper()
	if noEngine != nil {
		t.Fatalf("%v (the docker runtime's tests need a running Docker engine)", noEngine)
	}
}

// newStack returns a fresh stack label and a constructor of runtimes over
// it, each living until the test that asked for it ends. When the test
// ends, no container of the stack may be left.
func newStack(t *testing.T, extra map[string]string) (string, func(t *testing.T) *docker.Runtime) {
	stack := fmt.Sprintf("runtimetest-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { requireNoContainers(t, stack) })
	return stack, func(t *testing.T) *docker.Runtime {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		opts := map[string]string{"image": testImage, "stack": stack}
		for k, v := range extra {
			opts[k] = v
		}
		log := runtimetest.Logger(t)
		rt, err := docker.New(ctx, runtime.Config{Options: opts}, log)
		if err != nil {
			t.Fatalf("docker.New: %v", err)
		}
		return rt
	}
}

func TestContract(t *testing.T) {
	requireEngine(t)
	_, newRuntime := newStack(t, nil)
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t) }, workerBin)
}

// TestContainerDetails checks what is specific to containers: name,
// labels, host pid namespace (the worker's own pid is State.Pid), the data
// dir bind, and removal after the exit.
func TestContainerDetails(t *testing.T) {
	requireEngine(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	stack, newRuntime := newStack(t, map[string]string{"data_dir": dataDir})
	rt := newRuntime(t)
	ctx := context.Background()
	exits, err := rt.Exits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("details-%d", time.Now().UnixNano())
	h, err := rt.Start(ctx, runtime.Spec{ID: id, Args: []string{"hello"}, Env: map[string]string{"A": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Kill(context.Background(), id) })

	c, err := cli.ContainerInspect(ctx, "rideshare-"+id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Pid != h.PID {
		t.Errorf("Handle pid %d, State.Pid %d", h.PID, c.State.Pid)
	}
	if l := c.Config.Labels; l[docker.LabelWorker] != "true" || l[docker.LabelID] != id || l[docker.LabelStack] != stack {
		t.Errorf("labels = %v", l)
	}
	if c.HostConfig.PidMode != "host" || c.HostConfig.NetworkMode != "host" || c.HostConfig.AutoRemove {
		t.Errorf("host config: pid %q network %q autoremove %v", c.HostConfig.PidMode, c.HostConfig.NetworkMode, c.HostConfig.AutoRemove)
	}
	if got := strings.Join(c.Config.Cmd, " "); got != "hello" {
		t.Errorf("Cmd = %q, want the Spec's Args", got)
	}
	mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", h.PID))
	if !strings.Contains(string(mi), " "+dataDir+" ") {
		t.Errorf("data dir %s is not mounted in the worker", dataDir)
	}

	// The worker prints its own os.Getpid(): it must be the pid we report.
	want := fmt.Sprintf("testworker pid=%d", h.PID)
	waitFor(t, func() bool { return strings.Contains(containerLog(t, id), want) },
		"the container log to hold %q", want)
	if c.Config.Env == nil || !contains(c.Config.Env, "A=b") {
		t.Errorf("Env = %q, want A=b from the Spec", c.Config.Env)
	}

	if err := rt.Stop(ctx, id, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.ID != id || e.PID != h.PID || e.ExitCode != 0 {
			t.Errorf("Exit = %+v, want %s pid %d code 0", e, id, h.PID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no Exit")
	}
	waitFor(t, func() bool {
		_, err := cli.ContainerInspect(ctx, "rideshare-"+id)
		return errdefs.IsNotFound(err)
	}, "container rideshare-%s to be removed after its exit", id)
}

// TestDataVolume: with "data_volume" the data dir is a named volume.
func TestDataVolume(t *testing.T) {
	requireEngine(t)
	vol := fmt.Sprintf("rideshare-runtimetest-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = cli.VolumeRemove(context.Background(), vol, true) })
	_, newRuntime := newStack(t, map[string]string{"data_volume": vol, "data_dir": "/data"})
	rt := newRuntime(t)
	ctx := context.Background()
	id := fmt.Sprintf("vol-%d", time.Now().UnixNano())
	h, err := rt.Start(ctx, runtime.Spec{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background(), id, time.Second) })
	mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", h.PID))
	if !strings.Contains(string(mi), " /data ") || !strings.Contains(string(mi), " /tmp ") {
		t.Errorf("worker lacks /data (volume %s) or /tmp mounts:\n%s", vol, mi)
	}
	if _, err := cli.VolumeInspect(ctx, vol); err != nil {
		t.Errorf("volume %s: %v", vol, err)
	}
}

// TestStackIsolation: a runtime never lists or kills another stack's worker.
func TestStackIsolation(t *testing.T) {
	requireEngine(t)
	_, newA := newStack(t, nil)
	_, newB := newStack(t, nil)
	a, b := newA(t), newB(t)
	ctx := context.Background()
	id := fmt.Sprintf("iso-%d", time.Now().UnixNano())
	if _, err := a.Start(ctx, runtime.Spec{ID: id}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background(), id, time.Second) })
	if hs, err := b.List(ctx); err != nil || len(hs) != 0 {
		t.Errorf("other stack's List = %v, %v; want empty", hs, err)
	}
	if err := b.Kill(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("other stack's Kill = %v, want ErrNotFound", err)
	}
}

func TestMissingImage(t *testing.T) {
	requireEngine(t)
	_, err := docker.New(context.Background(), runtime.Config{Options: map[string]string{"image": "rideshare-no-such-image:never"}}, nil)
	if err == nil {
		t.Fatal("New with a missing image succeeded")
	}
}

// TestOptions: every documented option is accepted; an unknown key is
// refused by New before it reaches the engine, naming the key, the plugin and
// the accepted keys.
func TestOptions(t *testing.T) {
	documented := map[string]string{"image": "i", "network": "host", "data_dir": "/d", "data_volume": "v",
		"stack": "s", "user": "1:1", "binds": "/a:/b:ro"}
	if err := docker.ValidateOptions(documented); err != nil {
		t.Fatalf("documented options %v: %v", documented, err)
	}
	for _, k := range docker.OptionKeys {
		if _, ok := documented[k]; !ok {
			t.Errorf("option %q is accepted but not in docs/configuration.md's list", k)
		}
	}
	_, err := docker.New(context.Background(), runtime.Config{Options: map[string]string{"image": testImage, "imgae": "x"}}, nil)
	want := `runtime "docker": unknown option "imgae" (accepted: binds, data_dir, data_volume, image, network, stack, user)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New with an unknown option: err = %v, want %s", err, want)
	}
}

// requireNoContainers fails if any container of stack remains (running or
// not) once its exits had time to be processed.
func requireNoContainers(t *testing.T, stack string) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", docker.LabelStack+"="+stack))
	var left []container.Summary
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		left, err = cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
		if err != nil {
			t.Errorf("list containers: %v", err)
			return
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range left {
		t.Errorf("orphan container %v (%s) of stack %s", c.Names, c.State, stack)
		_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}

// containerLog is the output of worker id's container so far.
func containerLog(t *testing.T, id string) string {
	rc, err := cli.ContainerLogs(context.Background(), "rideshare-"+id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Logf("container log of %s: %v", id, err)
		return ""
	}
	defer rc.Close()
	var out strings.Builder
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	return out.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
