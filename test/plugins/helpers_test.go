package plugintest_test

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid int
	state     byte // R, S, Z, …
	cmdline   string
}

// readProc reads /proc/<pid>; ok is false when the process is gone.
func readProc(pid int) (proc, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return proc{}, false
	}
	f := strings.Fields(string(stat[i+2:]))
	if len(f) < 2 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return proc{pid: pid, ppid: ppid, state: f[0][0],
		cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))}, true
}

// children lists the live (not zombie) children of ppid whose command line
// contains match, sorted by pid.
func children(ppid int, match string) []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProc(pid)
		if ok && p.ppid == ppid && p.state != 'Z' && strings.Contains(p.cmdline, match) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b proc) int { return cmp.Compare(a.pid, b.pid) })
	return out
}

// onlyChild is the one child of ppid matching match; the test fails unless
// there is exactly one.
func onlyChild(t *testing.T, ppid int, match string) proc {
	t.Helper()
	ps := children(ppid, match)
	if len(ps) != 1 {
		t.Fatalf("want exactly one child of pid %d running %q, have %+v", ppid, match, ps)
	}
	return ps[0]
}

// alive reports whether pid runs (a zombie is dead: it only waits for its
// parent to reap it).
func alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.state != 'Z'
}

// environ is the environment of pid, one "K=V" per entry.
func environ(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("read environment of pid %d: %v", pid, err)
	}
	return strings.Split(string(b), "\x00")
}

func sigkill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// waitFor polls cond every 100ms until it holds, failing the test after
// timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// logLines returns the lines of file containing every one of words.
func logLines(file string, words ...string) []string {
	b, _ := os.ReadFile(file)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		ok := line != ""
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func workerByID(ws []api.WorkerInfo, id string) (api.WorkerInfo, bool) {
	for _, w := range ws {
		if w.ID == id {
			return w, true
		}
	}
	return api.WorkerInfo{}, false
}

func roleOf(t *testing.T, s *stacktest.Stack, role string) api.WorkerInfo {
	t.Helper()
	for _, w := range s.Workers() {
		if w.Role == role {
			return w
		}
	}
	t.Fatalf("no %s in %+v", role, s.Workers())
	return api.WorkerInfo{}
}

func workerList(t *testing.T, s *stacktest.Stack) []int {
	t.Helper()
	var pids []int
	if code := s.Do("GET", api.RouteWorkerList, nil, &pids); code != 200 {
		t.Fatalf("GET /api/v1/worker/list: status %d", code)
	}
	return pids
}

// readBack reads the user name back through a slave (read-your-writes).
func readBack(t *testing.T, s *stacktest.Stack, name string, minSeq uint64) {
	t.Helper()
	res, code := s.Read(dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": name}, MinSeq: minSeq})
	if code != 200 || len(res.Rows) != 1 || fmt.Sprint(res.Rows[0]["username"]) != name {
		t.Fatalf("read of %s at seq %d: status %d rows %v", name, minSeq, code, res.Rows)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := stacktest.ModuleRoot()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return root
}

// configWithRuntime writes a copy of the shipped hcl/local.hcl whose runtime
// block is runtime "<name>" {} and returns its path: the deployment file,
// not a test hook, picks the plugin.
func configWithRuntime(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "hcl", "local.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	const block = `runtime "process" {}`
	if !bytes.Contains(src, []byte(block)) {
		t.Fatalf("hcl/local.hcl has no line %s to replace", block)
	}
	out := bytes.Replace(src, []byte(block), []byte(fmt.Sprintf("runtime %q {}", name)), 1)
	p := filepath.Join(t.TempDir(), "local-"+name+".hcl")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// labelledPlugin builds examples/runtime-labelled once (static, as a plugin
// author would ship it) and returns the binary's path.
func labelledPlugin(t *testing.T) string {
	t.Helper()
	return stacktest.Build(t, "./examples/runtime-labelled", "rideshare-runtime-labelled")
}

// install copies the plugin binary at src into dir under its own name.
func install(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
