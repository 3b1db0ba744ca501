package command

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// crashCommand kills the master or the highest-pid slave, for drills.
func crashCommand() *cli.Command {
	sub := func(role string) *cli.Command {
		return &cli.Command{
			Name:  role,
			Usage: fmt.Sprintf("kill the %s (the orchestrator replaces it)", role),
			Flags: []cli.Flag{addrFlag()},
			Action: func(c *cli.Context) error {
				var pids []string
				if err := adminCall(c.Context, c.String("addr"), "POST", "/api/v1/crash/"+role, &pids); err != nil {
					return err
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
		Subcommands: []*cli.Command{sub("master"), sub("slave")},
	}
}
