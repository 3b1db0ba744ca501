package compose

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
const testImage = "rideshare-composetest:latest"

// buildTimeout bounds TestMain's image builds: the first one on a fresh machine debootstraps
// Debian and installs three servers' packages.
const buildTimeout = 12 * time.Minute

var (
	// root is the checkout: docker-compose.yml, scripts/images.sh, Dockerfile.
	root string
	// missing is why the test cannot run (no engine, no docker-compose, a failed image build),
	// nil when it can: TestCompose then fails saying so, since a test that ran nothing must not
	// pass.
	missing error
)

func TestMain(m *testing.M) {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	missing = prepare(ctx)
	cancel()
	code := m.Run()
	if missing == nil {
		// The next run builds it again from its own code; untagged copies would pile up.
		_ = exec.Command("docker", "rmi", testImage).Run()
	}
	os.Exit(code)
}

// prepare checks the engine and docker-compose, then builds every image the deployment runs.
func prepare(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	out, err := exec.CommandContext(pctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	cancel()
	if err != nil {
		return fmt.Errorf("no Docker engine answers (docker version: %v: %s); the compose test needs one", err, strings.TrimSpace(string(out)))
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return fmt.Errorf("no docker-compose on PATH (Debian package docker-compose): %w", err)
	}
	t0 := time.Now()
	// The service images, exactly as make images builds them (cached after the first time).
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "images.sh"))
	cmd.Env = append(os.Environ(), "ONLY=rabbitmq zookeeper postgres")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/images.sh: %w\n%s", err, out)
	}
	if err := buildRideshareImage(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "compose test: images built in %s\n", time.Since(t0).Round(time.Second))
	return nil
}

// buildRideshareImage builds testImage from the repository's Dockerfile around a static binary
// of the code under test, in a context of its own (the checkout's bin/ is left alone).
func buildRideshareImage(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "rideshare-composetest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Go is in /usr/local/go/bin on these machines, not always on PATH (the Makefile adds it).
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	build := exec.CommandContext(ctx, gobin, "build", "-o", filepath.Join(dir, "bin", "rideshare"), ".")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	img := exec.CommandContext(ctx, "docker", "build", "-q", "-t", testImage,
		"--label", "org.rideshare.project=dbaas", "--label", "rideshare.test=compose",
		"-f", filepath.Join(root, "Dockerfile"), dir)
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", testImage, err, out)
	}
	return nil
}

// requireReady fails t, naming why, when the deployment cannot run here.
func requireReady(t *testing.T) {
	t.Helper()
	if missing != nil {
		t.Fatalf("the compose deployment cannot run: %v", missing)
	}
}

// run runs a command, returning its combined output; an error names the command and carries
// the output.
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
