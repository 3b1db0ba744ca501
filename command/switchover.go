package command

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// switchoverCommand moves the lead to another worker, planned: no process is
// killed and no write fails (docs/operations.md, "Switchover").
func switchoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "switchover",
		Usage: "hand the master's lead to a ready slave, with no failed write",
		Flags: []cli.Flag{
			addrFlag(),
			&cli.StringFlag{Name: "to", Usage: "the worker id to hand over to (rideshare status lists them; default: the lowest-pid ready slave)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("switchover takes no arguments (got %q); name the new master with -to <worker id>", c.Args().Slice())
			}
			cl := adminClient(c)
			res, err := cl.Switchover(c.Context, c.String("to"))
			if err != nil {
				return adminError(cl, err)
			}
			fmt.Fprintf(c.App.Writer, "switched over from %s to %s: epoch %d, writes waited %.1f ms\n", res.From, res.To, res.Epoch, res.TookMS)
			return nil
		},
	}
}
