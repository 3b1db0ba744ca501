package command

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
)

// addrFlag names the orchestrator the operator commands talk to.
func addrFlag() cli.Flag {
	return &cli.StringFlag{Name: "addr", Value: "http://127.0.0.1:8083", EnvVars: []string{"RIDESHARE_ADDR"},
		Usage: "orchestrator address"}
}

// The environment variables the operator commands take their bearer tokens
// from: read from the environment only, never from a flag, since a command
// line is visible to every user of the machine (ps).
const (
	// EnvToken is sent on every call: the orchestrator's admin_token.
	EnvToken = "RIDESHARE_TOKEN"
	// EnvDBToken is sent instead on DB API calls (rideshare bench), when
	// the deployment's db_token differs from its admin_token.
	EnvDBToken = "RIDESHARE_DB_TOKEN"
)

// adminClient is the operator commands' client of the orchestrator at
// -addr: one attempt (an operator re-runs the command), 10 s, with the
// token of $RIDESHARE_TOKEN.
func adminClient(c *cli.Context) *api.Client {
	return api.NewClient(c.String("addr"), api.WithTimeout(10*time.Second), api.WithAttempts(1),
		api.WithToken(os.Getenv(EnvToken)))
}

// adminError says what to check when an admin call failed: an orchestrator
// that did not answer is named, with how to point at another one; a 401
// says which variable holds the token.
func adminError(cl *api.Client, err error) error {
	switch {
	case err != nil && api.StatusOf(err) == 0:
		return fmt.Errorf("cannot reach the orchestrator at %s (is it running? set -addr or RIDESHARE_ADDR): %w", cl.BaseURL(), err)
	case errors.Is(err, api.ErrUnauthorized):
		return fmt.Errorf("%w (set %s to the deployment's admin_token)", err, EnvToken)
	}
	return err
}
