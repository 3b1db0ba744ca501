package pluginhost

// The test binary is its own plugin: TestMain serves a kind instead of
// running the tests when it is started as "<test binary> plugin <kind> <name>"
// (a built-in, as "rideshare plugin" would be) or under the name
// rideshare-<kind>-<name> (an external plugin: a symlink in a plugin dir).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// envHost makes the test binary act as a host that loads a storage plugin,
// prints the plugin's pid and waits to be killed (TestPluginExitsWithHost).
const envHost = "PLUGINHOST_TEST_HOST"

func TestMain(m *testing.M) {
	UseBuiltins(Catalog{
		Runtimes:  map[string]runtime.Factory{"mem": newMemRuntime},
		Storages:  map[string]storage.Opener{"mem": openMemStorage},
		Elections: map[string]election.Factory{"mem": newMemElection},
	})
	registerReal()

	if len(os.Args) == 4 && os.Args[1] == "plugin" {
		if err := ServeBuiltin(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if base := filepath.Base(os.Args[0]); strings.HasPrefix(base, "rideshare-") {
		os.Exit(serveExternal(base))
	}
	if os.Getenv(envHost) != "" {
		os.Exit(actAsHost())
	}
	os.Exit(m.Run())
}

// serveExternal serves rideshare-<kind>-<name>. Names starting with
// "badcookie" or "badproto" serve with a wrong handshake.
func serveExternal(base string) int {
	kind, name, ok := strings.Cut(strings.TrimPrefix(base, "rideshare-"), "-")
	if !ok {
		return 2
	}
	hs := Handshake
	switch {
	case strings.HasPrefix(name, "badcookie"):
		hs.MagicCookieValue = "not-the-rideshare-cookie"
	case strings.HasPrefix(name, "badproto"):
		hs.ProtocolVersion = Handshake.ProtocolVersion + 1
	}
	var err error
	switch kind {
	case KindRuntime:
		err = serve(kind, name, runtime.Factory(newMemRuntime), hs)
	case KindStorage:
		err = serve(kind, name, storage.Opener(openMemStorage), hs)
	case KindElection:
		err = serve(kind, name, election.Factory(newMemElection), hs)
	default:
		err = fmt.Errorf("unknown plugin kind %q", kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func actAsHost() int {
	defer Cleanup()
	st, err := LoadStorage(context.Background(), "mem", storage.Config{WorkerID: "w"}, LoadOptions{Logger: hclog.NewNullLogger()})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(st.(*storageClient).sup.pid())
	time.Sleep(time.Minute)
	return 0
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testOptions logs into a buffer (dumped on failure) and uses the default
// Binary (os.Executable: this test binary).
func testOptions(t testing.TB) (LoadOptions, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host log:\n%s", buf.String())
		}
	})
	return LoadOptions{Logger: logger, StartTimeout: 20 * time.Second}, buf
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// alive reports whether pid is a running (not reaped) process.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// a zombie has state Z after the command name
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sigkill kills a plugin process as a crash would.
func sigkill(t testing.TB, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("no plugin pid")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

// cmdline is argv of a process.
func cmdline(t testing.TB, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("read cmdline of %d: %v", pid, err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// linkPlugin puts this test binary into dir as rideshare-<kind>-<name>.
func linkPlugin(t testing.TB, dir, kind, name string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ExecutableName(kind, name))
	if err := os.Symlink(exe, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
