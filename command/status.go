package command

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
)

// statusCommand prints every worker: id, pid, role, applied seq, lag, uptime,
// and for a worker still catching up where it stands.
// Lag is how far a worker's applied seq is behind the master's.
func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the workers: id, pid, role, applied seq, lag, uptime",
		Flags: []cli.Flag{addrFlag()},
		Action: func(c *cli.Context) error {
			cl := adminClient(c)
			ws, err := cl.Workers(c.Context)
			if err != nil {
				return adminError(cl, err)
			}
			var head uint64
			for _, w := range ws {
				if w.AppliedSeq > head {
					head = w.AppliedSeq
				}
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPID\tROLE\tAPPLIED SEQ\tLAG\tUPTIME\tCATCH-UP")
			for _, w := range ws {
				role := w.Role
				switch {
				case w.Draining:
					role += " (draining)"
				case !w.Ready:
					role += " (catching up)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\n", w.ID, w.PID, role, w.AppliedSeq, head-w.AppliedSeq,
					time.Since(w.StartedAt).Round(time.Second), catchUpText(w.CatchingUp))
			}
			return tw.Flush()
		},
	}
}

// catchUpText says where a catching-up worker stands, e.g.
// "loading snapshot 4.2/10.0 MB at 8.1 MB/s, ETA 1s" or
// "replaying seq 1200/5000 at 3000/s, ETA 1s".
func catchUpText(p *api.CatchUp) string {
	if p == nil {
		return "-"
	}
	eta := "ETA ?"
	if p.ETASeconds > 0 {
		eta = "ETA " + time.Duration(p.ETASeconds*float64(time.Second)).Round(time.Second).String()
	}
	if p.Unit == "bytes" {
		const mb = 1e6
		return fmt.Sprintf("loading snapshot %.1f/%.1f MB at %.1f MB/s, %s", float64(p.Done)/mb, float64(p.Total)/mb, p.Rate/mb, eta)
	}
	return fmt.Sprintf("replaying seq %d/%d at %.0f/s, %s", p.Done, p.Total, p.Rate, eta)
}
