package cluster

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
const testImage = "rideshare-clustertest:latest"

// buildTimeout bounds TestMain's image builds (cached after the first: seconds).
const buildTimeout = 12 * time.Minute

var (
	// root is the checkout: docker-compose.cluster.yml, scripts/images.sh, Dockerfile.
	root string
	// missing is what keeps the test from running (no Docker engine, no docker-compose, a
	// failed build): it fails, naming it.
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
	noEngine, missing = composetest.Prepare(ctx, root, testImage, "cluster")
	if noEngine != nil {
		missing = fmt.Errorf("%w; the cluster test needs one", noEngine)
	}
	cancel()
	code := m.Run()
	if missing == nil {
		_ = exec.Command("docker", "rmi", testImage).Run()
	}
	os.Exit(code)
}

// requireReady fails t, naming why, when the deployment cannot run here.
func requireReady(t *testing.T) {
	t.Helper()
	if missing != nil {
		t.Fatalf("the cluster deployment cannot run: %v", missing)
	}
}

// run runs a command in the checkout (composetest.Run).
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	return composetest.Run(ctx, root, env, name, args...)
}
