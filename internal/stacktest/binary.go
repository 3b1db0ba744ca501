// Package stacktest starts a real DBaaS for integration tests: the real
// rideshare binary for workers, a real RabbitMQ, ZooKeeper and (when chosen)
// PostgreSQL, and the orchestrator in the test process so tests can stop and
// restart it. Nothing is mocked.
package stacktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// built holds one build per package: each is built once per test process,
// before any test's deadline starts counting.
var built sync.Map // package path → *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds the static rideshare binary once per test process and
// returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	return Build(t, ".", "rideshare")
}

// Build builds the main package pkg (a path relative to the module root,
// like "./examples/runtime-labelled") statically, once per test process,
// into an executable named name, and returns its path.
func Build(t testing.TB, pkg, name string) string {
	t.Helper()
	v, _ := built.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "rideshare-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = &buildError{out: string(out), err: err}
		}
	})
	if b.err != nil {
		t.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.path
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// ModuleRoot is the directory holding go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}
