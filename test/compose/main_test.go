package compose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/composetest"
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
	var noEngine error
	noEngine, missing = composetest.Prepare(ctx, root, testImage, "compose")
	if noEngine != nil {
		missing = fmt.Errorf("%w; the compose test needs one", noEngine)
	}
	cancel()
	code := m.Run()
	if missing == nil {
		// The next run builds it again from its own code; untagged copies would pile up.
		_ = exec.Command("docker", "rmi", testImage).Run()
	}
	os.Exit(code)
}

// requireReady fails t, naming why, when the deployment cannot run here.
func requireReady(t *testing.T) {
	t.Helper()
	if missing != nil {
		t.Fatalf("the compose deployment cannot run: %v", missing)
	}
}

// run runs a command in the checkout (composetest.Run).
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	return composetest.Run(ctx, root, env, name, args...)
}
