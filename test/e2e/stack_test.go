package e2e

import (
	"testing"

	"github.com/rideshare/dbaas/internal/stacktest"
)

// startStack starts a real DBaaS for one test — orchestrator, a master and two
// slaves on a real RabbitMQ and ZooKeeper — and returns the base URL of the
// orchestrator's DB API. Two slaves make read-your-writes matter: consecutive
// reads land on different replicas.
func startStack(t *testing.T) string {
	t.Helper()
	return stacktest.Start(t, stacktest.Options{Slaves: 2}).URL
}
