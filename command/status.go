package command

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
)

// statusCommand prints the master's epoch and seq, the last failover, and
// every worker: id, pid, role, applied seq, lag, uptime, and for a worker
// still catching up where it stands. Lag is how far a worker's applied seq
// is behind the master's (GET /api/v1/status computes it).
func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the epoch, the last failover and the workers: id, pid, role, applied seq, lag, uptime, catch-up",
		Flags: []cli.Flag{addrFlag()},
		Action: func(c *cli.Context) error {
			cl := adminClient(c)
			st, err := cl.Status(c.Context)
			if err != nil {
				return adminError(cl, err)
			}
			return writeStatus(c.App.Writer, st, time.Now())
		},
	}
}

// writeStatus prints st as of now: two summary lines, then the table.
func writeStatus(out io.Writer, st api.Status, now time.Time) error {
	if st.Master == "" {
		fmt.Fprintln(out, "master: none (an election may be in progress)")
	} else {
		fmt.Fprintf(out, "master: %s at epoch %d, applied seq %d\n", st.Master, st.Epoch, st.MasterSeq)
	}
	fmt.Fprintln(out, "last failover: "+failoverText(st.LastFailover, now))
	if o := st.Orchestrator; o != nil {
		sup := o.Supervisor
		if sup == "" {
			sup = "none"
		}
		fmt.Fprintf(out, "orchestrator: %s, %s (supervisor: %s)\n", o.ID, o.Role, sup)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPID\tROLE\tAPPLIED SEQ\tLAG\tUPTIME\tCATCH-UP")
	for _, w := range st.Workers {
		role := w.Role
		switch {
		case w.Draining:
			role += " (draining)"
		case !w.Ready:
			role += " (catching up)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\n", w.ID, w.PID, role, w.AppliedSeq, w.Lag,
			now.Sub(w.StartedAt).Round(time.Second), catchUpText(w.CatchingUp))
	}
	return tw.Flush()
}

// failoverText says when the last failover was and how long it took, e.g.
// "2026-12-04T17:10:19Z (3m0s ago): w-1a2b3c4d5e (pid 4242) took over at
// epoch 7 in 850 ms".
func failoverText(e *api.Event, now time.Time) string {
	if e == nil {
		return "none since the orchestrator started"
	}
	return fmt.Sprintf("%s (%s ago): %s (pid %d) took over at epoch %d in %.0f ms", e.Time.UTC().Format(time.RFC3339),
		now.Sub(e.Time).Round(time.Second), e.Worker, e.PID, e.Epoch, e.DurationMS)
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
