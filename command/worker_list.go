package command

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// workerListCommand prints the sorted pids of all workers.
func workerListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "print the pids of all workers, sorted",
		Flags: []cli.Flag{addrFlag()},
		Action: func(c *cli.Context) error {
			cl := adminClient(c)
			pids, err := cl.WorkerList(c.Context)
			if err != nil {
				return adminError(cl, err)
			}
			for _, p := range pids {
				fmt.Fprintln(c.App.Writer, p)
			}
			return nil
		},
	}
}
