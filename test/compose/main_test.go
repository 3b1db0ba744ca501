package compose

import (
	"testing"

	"github.com/rideshare/dbaas/internal/composetest"
)

// deployment is this test's, with the rideshare image of the code under test.
var deployment = &composetest.Deployment{Name: "compose", Image: "rideshare-composetest:latest"}

func TestMain(m *testing.M) { composetest.Main(m, deployment) }
