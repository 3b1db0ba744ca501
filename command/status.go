package command

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/orchestrator"
)

// statusCommand prints every worker: id, pid, role, applied seq, lag, uptime.
// Lag is how far a worker's applied seq is behind the master's.
func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the workers: id, pid, role, applied seq, lag, uptime",
		Flags: []cli.Flag{addrFlag()},
		Action: func(c *cli.Context) error {
			var ws []orchestrator.WorkerInfo
			if err := adminCall(c.Context, c.String("addr"), "GET", "/api/v1/workers", &ws); err != nil {
				return err
			}
			var head uint64
			for _, w := range ws {
				if w.AppliedSeq > head {
					head = w.AppliedSeq
				}
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPID\tROLE\tAPPLIED SEQ\tLAG\tUPTIME")
			for _, w := range ws {
				role := w.Role
				switch {
				case w.Draining:
					role += " (draining)"
				case !w.Ready:
					role += " (catching up)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", w.ID, w.PID, role, w.AppliedSeq, head-w.AppliedSeq,
					time.Since(w.StartedAt).Round(time.Second))
			}
			return tw.Flush()
		},
	}
}
