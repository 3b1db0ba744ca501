// Package runtimetest is the contract test suite every runtime.Runtime
// implementation runs (Run), plus the stand-in worker program it starts
// (testworker, built by BuildWorker).
package runtimetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// WorkerPackage is the import path of the stand-in worker program.
const WorkerPackage = "github.com/rideshare/dbaas/plugins/runtime/runtimetest/testworker"

// BuildWorker compiles the stand-in worker into dir/testworker as a static
// binary (CGO_ENABLED=0, so it also runs in an image built FROM scratch) and
// returns its path.
func BuildWorker(dir string) (string, error) {
	// go test puts the GOROOT/bin of the go running the tests first on the
	// PATH of the test binaries, so that go is the one found.
	goBin, err := exec.LookPath("go")
	if err != nil {
		root := os.Getenv("GOROOT")
		if root == "" {
			return "", fmt.Errorf("build %s: no go command on PATH and GOROOT unset: %w", WorkerPackage, err)
		}
		goBin = filepath.Join(root, "bin", "go")
	}
	out := filepath.Join(dir, "testworker")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, WorkerPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", WorkerPackage, err, buf.String())
	}
	return out, nil
}
