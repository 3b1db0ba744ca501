package command

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
)

// addrFlag names the orchestrator the operator commands talk to.
func addrFlag() cli.Flag {
	return &cli.StringFlag{Name: "addr", Value: "http://127.0.0.1:8083", EnvVars: []string{"RIDESHARE_ADDR"},
		Usage: "orchestrator address"}
}

// adminClient is the operator commands' client of the orchestrator at
// -addr: one attempt (an operator re-runs the command), 10 s.
func adminClient(c *cli.Context) *api.Client {
	return api.NewClient(c.String("addr"), api.WithTimeout(10*time.Second), api.WithAttempts(1))
}

// adminError says what to check when an admin call failed: an orchestrator
// that did not answer is named, with how to point at another one.
func adminError(cl *api.Client, err error) error {
	if err != nil && api.StatusOf(err) == 0 {
		return fmt.Errorf("cannot reach the orchestrator at %s (is it running? set -addr or RIDESHARE_ADDR): %w", cl.BaseURL(), err)
	}
	return err
}
