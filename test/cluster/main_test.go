package cluster

import (
	"testing"

	"github.com/rideshare/dbaas/internal/composetest"
)

// deployment is this test's, with the rideshare image of the code under test.
var deployment = &composetest.Deployment{Name: "cluster", Image: "rideshare-clustertest:latest"}

func TestMain(m *testing.M) { composetest.Main(m, deployment) }
