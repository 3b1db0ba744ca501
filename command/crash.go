package command

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
)

// crashCommand kills the master or the highest-pid slave, for drills.
func crashCommand() *cli.Command {
	sub := func(role string, crash func(*api.Client, context.Context) ([]string, error)) *cli.Command {
		return &cli.Command{
			Name:  role,
			Usage: fmt.Sprintf("kill the %s (the orchestrator replaces it)", role),
			Flags: []cli.Flag{addrFlag()},
			Action: func(c *cli.Context) error {
				cl := adminClient(c)
				pids, err := crash(cl, c.Context)
				if err != nil {
					return adminError(cl, err)
				}
				for _, p := range pids {
					fmt.Fprintf(c.App.Writer, "killed %s pid %s\n", role, p)
				}
				return nil
			},
		}
	}
	return &cli.Command{
		Name:        "crash",
		Usage:       "kill a worker to test failover",
		Subcommands: []*cli.Command{sub("master", (*api.Client).CrashMaster), sub("slave", (*api.Client).CrashSlave)},
	}
}
