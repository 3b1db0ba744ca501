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
	noEngine, missing = composetest.Prepare(ctx, root, testImage, "cluster")
	cancel()
	code := m.Run()
	if noEngine == nil && missing == nil {
		_ = exec.Command("docker", "rmi", testImage).Run()
	}
	os.Exit(code)
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

// run runs a command in the checkout (composetest.Run).
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	return composetest.Run(ctx, root, env, name, args...)
}
