package composetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Prepare checks that a Docker engine answers and docker-compose is there, then builds every
// image a deployment of the checkout root runs: the service images exactly as make images
// builds them (cached after the first time: seconds), and image, the rideshare image of the
// code under test (so a run never replaces the rideshare:latest an operator built), labelled
// rideshare.test=<test>. noEngine is set when no engine answers; missing when anything else
// keeps the deployment from running (no docker-compose, a failed build).
func Prepare(ctx context.Context, root, image, test string) (noEngine, missing error) {
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
	if err := buildRideshareImage(ctx, root, image, test); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s test: images built in %s\n", test, time.Since(t0).Round(time.Second))
	return nil, nil
}

// buildRideshareImage builds image from the repository's Dockerfile around a static binary of
// the code under test, in a context of its own (the checkout's bin/ is left alone).
func buildRideshareImage(ctx context.Context, root, image, test string) error {
	dir, err := os.MkdirTemp("", "rideshare-"+test+"test-")
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
	img := exec.CommandContext(ctx, "docker", "build", "-q", "-t", image,
		"--label", "org.rideshare.project=dbaas", "--label", "rideshare.test="+test,
		"-f", filepath.Join(root, "Dockerfile"), dir)
	if out, err := img.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", image, err, out)
	}
	return nil
}
