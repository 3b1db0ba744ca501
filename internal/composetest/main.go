package composetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BuildTimeout bounds a test package's image builds: the first one on a fresh machine
// debootstraps Debian and installs three servers' packages; later ones are cached (seconds).
const BuildTimeout = 12 * time.Minute

// Deployment is one test package's compose deployment: the checkout it runs from, the
// rideshare image built for it, and what keeps it from running here.
type Deployment struct {
	// Name is the test's ("compose", "cluster"): in labels, temporary names and messages.
	Name string
	// Image is the rideshare image of the services and the workers, built from the code
	// under test: a run never replaces the rideshare:latest an operator built.
	Image string
	// Root is the checkout (docker-compose files, scripts/images.sh, Dockerfile); Main sets it.
	Root string
	// missing is what keeps the deployment from running (no engine, no docker-compose, a
	// failed build), nil when it can.
	missing error
}

// Main is a test package's TestMain: it builds d's images (Prepare), runs the tests, removes
// d.Image (the next run builds it again from its own code; untagged copies would pile up),
// and exits. The package's directory is two below the checkout.
func Main(m *testing.M, d *Deployment) {
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	d.Root = root
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	noEngine, missing := Prepare(ctx, root, d.Image, d.Name)
	cancel()
	if noEngine != nil {
		missing = fmt.Errorf("%w; the %s test needs one", noEngine, d.Name)
	}
	d.missing = missing
	code := m.Run()
	if missing == nil {
		_ = exec.Command("docker", "rmi", d.Image).Run()
	}
	os.Exit(code)
}

// Require fails t, naming why, when the deployment cannot run here: a test that ran nothing
// must not pass.
func (d *Deployment) Require(t *testing.T) {
	t.Helper()
	if d.missing != nil {
		t.Fatalf("the %s deployment cannot run: %v", d.Name, d.missing)
	}
}

// Run runs a command in the checkout (see Run).
func (d *Deployment) Run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	return Run(ctx, d.Root, env, name, args...)
}
