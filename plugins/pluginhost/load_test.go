package pluginhost

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// TestPluginDirExecutableIsUsed: rideshare-runtime-ext in the plugin dir is
// run (no built-in has that name), and a plugin-dir executable shadows a
// built-in of the same name.
func TestPluginDirExecutableIsUsed(t *testing.T) {
	opts, _ := testOptions(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	path := linkPlugin(t, dir, "runtime", "ext")
	opts.PluginDir = dir

	rt, closer, err := LoadRuntime(ctx, "ext", runtime.Config{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if h, err := rt.Start(ctx, runtime.Spec{ID: "a"}); err != nil || h.ID != "a" {
		t.Fatalf("Start through the external plugin = %+v, %v", h, err)
	}
	pid := rt.(*runtimeClient).sup.pid()
	if argv := cmdline(t, pid); argv[0] != path || len(argv) != 1 {
		t.Fatalf("plugin process runs %q, want %q with no arguments", argv, path)
	}

	// The dir wins over the built-in "mem".
	shadow := linkPlugin(t, dir, "storage", "mem")
	st, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "x"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if argv := cmdline(t, st.(*storageClient).sup.pid()); argv[0] != shadow {
		t.Fatalf("storage plugin runs %q, want the plugin-dir executable %q", argv, shadow)
	}

	// Without the dir, the built-in runs as "<binary> plugin storage mem".
	opts.PluginDir = ""
	st2, err := LoadStorage(ctx, "mem", storage.Config{WorkerID: "y"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	exe, _ := os.Executable()
	if argv := cmdline(t, st2.(*storageClient).sup.pid()); strings.Join(argv, " ") != exe+" plugin storage mem" {
		t.Fatalf("built-in runs %q", argv)
	}
}

func TestPluginNotFoundNamesWhereItLooked(t *testing.T) {
	opts, _ := testOptions(t)
	dir := t.TempDir()
	opts.PluginDir = dir
	_, _, err := LoadRuntime(testCtx(t), "nosuch", runtime.Config{}, opts)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	for _, want := range []string{`runtime plugin "nosuch"`, filepath.Join(dir, "rideshare-runtime-nosuch"), "mem"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, _, err := LoadRuntime(testCtx(t), "../../bin/sh", runtime.Config{}, opts); err == nil {
		t.Fatal("a name with a path was accepted")
	}
	// A file that is not executable is an error, not skipped silently.
	p := filepath.Join(dir, "rideshare-runtime-noexec")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadRuntime(testCtx(t), "noexec", runtime.Config{}, opts); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("non-executable plugin: want an error naming %s, got %v", p, err)
	}
}

// TestHandshakeFailuresNamePlugin: a wrong magic cookie, a wrong protocol
// version and a binary that is no plugin at all each fail Load with an error
// naming the executable, and leave no process behind.
func TestHandshakeFailuresNamePlugin(t *testing.T) {
	opts, _ := testOptions(t)
	dir := t.TempDir()
	opts.PluginDir = dir
	opts.StartTimeout = 10 * time.Second
	script := filepath.Join(dir, "rideshare-runtime-notaplugin")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello from a shell script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"badcookie":  linkPlugin(t, dir, "runtime", "badcookie"),
		"badproto":   linkPlugin(t, dir, "runtime", "badproto"),
		"notaplugin": script,
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			begin := time.Now()
			_, _, err := LoadRuntime(testCtx(t), name, runtime.Config{}, opts)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `runtime plugin "`+name+`"`) {
				t.Fatalf("error does not name the plugin and %s: %v", path, err)
			}
			if d := time.Since(begin); d > 8*time.Second {
				t.Fatalf("failing handshake took %v", d)
			}
			t.Logf("%s: %v", name, err)
		})
	}
	if err := exec.Command("pgrep", "-f", "rideshare-runtime-bad").Run(); err == nil {
		t.Fatal("a plugin process with a bad handshake is still running")
	}
}

// TestPluginExitsWithHost: a host killed with SIGKILL cannot stop its
// plugins; they notice their parent is gone and exit by themselves.
func TestPluginExitsWithHost(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe)
	host.Env = append(os.Environ(), envHost+"=1")
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("host output: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		t.Fatalf("host printed %q", line)
	}
	_ = host.Process.Kill()
	_ = host.Wait()
	waitFor(t, "the plugin of a killed host to exit", 5*time.Second, func() bool { return !alive(pid) })
}
