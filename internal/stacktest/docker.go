package stacktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestImage is the worker image the docker stacks run, built from the test
// binary so it always matches the code under test.
const TestImage = "rideshare-test:latest"

var (
	dockerOnce sync.Once
	dockerOK   bool
	imageOnce  sync.Once
	imageErr   error
)

// DockerAvailable reports whether a Docker engine answers. When none does it
// says so in one visible line (the only test part allowed to be absent).
func DockerAvailable() bool {
	dockerOnce.Do(func() {
		out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
		dockerOK = err == nil
		if !dockerOK {
			fmt.Fprintf(os.Stderr, "stacktest: no Docker engine answers (%v: %s); docker+postgres stacks are not run on this machine\n", err, out)
		}
	})
	return dockerOK
}

// Backends are the deployments every data-path, failover and scaling test
// runs on: process+sqlite always, docker+postgres where an engine runs.
func Backends() []string {
	if DockerAvailable() {
		return []string{"hcl/local.hcl", "hcl/docker.hcl"}
	}
	return []string{"hcl/local.hcl"}
}

// buildImage builds TestImage FROM scratch around the test binary.
func buildImage(t testing.TB) {
	t.Helper()
	bin := Binary(t)
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rideshare-image-")
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(dir)
		data, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "rideshare"), data, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "Dockerfile"),
				[]byte("FROM scratch\nCOPY rideshare /rideshare\nENTRYPOINT [\"/rideshare\"]\n"), 0o644)
		}
		if err != nil {
			imageErr = err
			return
		}
		if out, err := exec.Command("docker", "build", "-q", "--label", "rideshare-test=true", "-t", TestImage, dir).CombinedOutput(); err != nil {
			imageErr = fmt.Errorf("docker build: %v: %s", err, out)
			return
		}
		// Each run retags the image; drop the earlier test images it untagged.
		_ = exec.Command("docker", "image", "prune", "-f", "--filter", "label=rideshare-test=true").Run()
	})
	if imageErr != nil {
		t.Fatalf("build worker image %s: %v", TestImage, imageErr)
	}
}
