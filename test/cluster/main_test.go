package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testImage is the rideshare image of the services and the workers in this test, built from the
// code under test: a run never replaces the rideshare:latest an operator built.
const testImage = "rideshare-clustertest:latest"

// buildTimeout bounds TestMain's image builds (cached after the first: seconds).
const buildTimeout = 12 * time.Minute

var (
	// root is the checkout: docker-compose.cluster.yml, scripts/images.sh, Dockerfile.
	root string
	// noEngine is why the test cannot run on this machine at all (no Docker engine): it skips.
	noEngine error
	// missing is what else keeps it from running (no docker-compose, a failed build): it fails.
	missing error
)

func TestMain(m *testing.M) {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	noEngine, missing = prepare(ctx)
	cancel()
	code := m.Run()
	if noEngine == nil && missing == nil {
		_ = exec.Command("docker", "rmi", testImage).Run()
	}
	os.Exit(code)
}

// prepare checks the engine and docker-compose, then builds every image the deployment runs:
// the service images exactly as make images does (cached), and the rideshare image of this code.
func prepare(ctx context.Context) (noEngine, missing error) {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	out, err := exec.CommandContext(pctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	cancel()
	if err != nil {
		return fmt.Errorf("no Docker engine answers (docker version: %v: %s)", err, strings.TrimSpace(string(out))), nil
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return nil, fmt.Errorf("no docker-compose on PATH (Debian package docker-compose): %w", err)
	}
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "images.sh"))
	cmd.Env = append(os.Environ(), "ONLY=rabbitmq zookeeper postgres")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("scripts/images.sh: %w\n%s", err, out)
	}
	if err := buildRideshareImage(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "cluster test: images built in %s\n", time.Since(t0).Round(time.Second))
	return nil, nil
}

// buildRideshareImage builds testImage from the repository's Dockerfile around a static binary
// of the code under test, in a context of its own (the checkout's bin/ is left alone).
func buildRideshareImage(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "rideshare-clustertest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go" // not always on PATH (the Makefile adds it)
	}
	build := exec.CommandContext(ctx, gobin, "build", "-o", filepath.Join(dir, "bin", "rideshare"), ".")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	img := exec.CommandContext(ctx, "docker", "build", "-q", "-t", testImage,
		"--label", "org.rideshare.project=dbaas", "--label", "rideshare.test=cluster",
		"-f", filepath.Join(root, "Dockerfile"), dir)
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", testImage, err, out)
	}
	return nil
}

// requireReady skips t in one line when no Docker engine answers, and fails it, naming why, when
// anything else the deployment needs is missing.
func requireReady(t *testing.T) {
	t.Helper()
	if noEngine != nil {
		t.Skipf("SKIP cluster test: %v", noEngine)
	}
	if missing != nil {
		t.Fatalf("the cluster deployment cannot run: %v", missing)
	}
}

// run runs a command in the checkout, returning its combined output; an error names the command
// and carries the output.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out), fmt.Errorf("%s: %w", name, err)
	}
	return string(out), nil
}

// lines splits a command's output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
