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
			var pids []int
			if err := adminCall(c.Context, c.String("addr"), "GET", "/api/v1/worker/list", &pids); err != nil {
				return err
			}
			for _, p := range pids {
				fmt.Fprintln(c.App.Writer, p)
			}
			return nil
		},
	}
}
