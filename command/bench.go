package command

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/internal/bench"
)

// benchCommand measures a running stack against its floor (a bare AMQP echo
// RPC on the same broker), and optionally times failovers.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure reads and writes of a running stack against a bare AMQP echo RPC on the same broker; optionally time failovers",
		Description: `Scenarios, each with 1 and -concurrency callers:
  floor          bare AMQP echo RPC on the broker (the least a DB API call can cost)
  floor-confirm  the same with a persistent message and a publisher confirm (as writes are sent)
  http           GET /healthz on the orchestrator (the HTTP hop alone)
  read           POST /api/v1/db/read of a few seeded rides
  write          POST /api/v1/db/write inserting a unique user (bench-<run>-<n>; they stay),
                 also at 8 and 128 callers (group commit shows in how writes scale)
With -failover N it then kill -9s the master N times and the oldest slave N times, each
from a settled stack, and prints the median/min/max time from the kill to the first
successful write, to 1 master + N slaves listed again, and to all of them ready (caught
up). It signals the pids GET /api/v1/workers shows, so it must run on the workers' host.
With -switchover N it then hands the lead to a slave N times (POST /api/v1/switchover) while
4 writers insert, and prints the longest write during each switchover beside the longest
write of the steady 2 s before it (the floor), and the failed writes.
It sends $RIDESHARE_TOKEN as the bearer token, and $RIDESHARE_DB_TOKEN instead on the DB API
when the deployment's db_token differs from its admin_token.`,
		Flags: []cli.Flag{
			addrFlag(),
			&cli.StringFlag{Name: "amqp", Value: "amqp://guest:guest@127.0.0.1:5672/", EnvVars: []string{"RIDESHARE_AMQP_URL"},
				Usage: "the broker the stack uses (the floor is measured on it)"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "length of each measurement"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, Usage: "warm-up before each measurement (not counted)"},
			&cli.IntFlag{Name: "concurrency", Value: bench.DefaultConcurrency, Usage: "the high concurrency level (1 is always measured too)"},
			&cli.StringFlag{Name: "scenarios", Value: strings.Join(bench.AllScenarios, ","),
				Usage: "comma-separated scenarios to measure, or \"none\" (with -failover)"},
			&cli.IntFlag{Name: "runs", Value: 1, Usage: "measure everything this many times and print the median of each figure (ratios are per run, to that run's floor)"},
			&cli.IntFlag{Name: "failover", Usage: "run this many master and slave kill -9 drills after the measurements"},
			&cli.DurationFlag{Name: "failover-timeout", Value: 60 * time.Second, Usage: "bound of one drill"},
			&cli.IntFlag{Name: "switchover", Usage: "run this many switchovers under 4 writers after the measurements, timing the longest write beside the steady floor"},
			&cli.BoolFlag{Name: "json", Usage: "print the reports as JSON"},
			&cli.IntFlag{Name: "preload-rows", Usage: "before anything else, insert this many users (a history for the drills)"},
			&cli.IntFlag{Name: "preload-updates", Usage: "then update their passwords this many times in all"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := untilStopped(c.Context)
			defer stop()
			w := c.App.Writer
			logf := func(format string, args ...any) {
				if !c.Bool("json") {
					fmt.Fprintf(c.App.ErrWriter, format+"\n", args...)
				}
			}
			out := map[string]any{}
			tok, dbTok := os.Getenv(EnvToken), os.Getenv(EnvDBToken)
			if rows := c.Int("preload-rows"); rows > 0 {
				took, err := bench.Preload(ctx, bench.PreloadOptions{Addr: c.String("addr"), Rows: rows, Updates: c.Int("preload-updates"),
					Concurrency: 128, Logf: logf, Token: tok, DBToken: dbTok})
				if err != nil {
					return err
				}
				logf("preload: %d rows and %d updates written in %s", rows, c.Int("preload-updates"), took.Round(time.Second))
			}
			if sc := c.String("scenarios"); sc != "none" && sc != "" {
				opts := bench.Options{Addr: c.String("addr"), AMQPURL: c.String("amqp"), Duration: c.Duration("duration"),
					Warmup: c.Duration("warmup"), Concurrency: c.Int("concurrency"), Logf: logf, Token: tok, DBToken: dbTok}
				if opts.Warmup == 0 {
					opts.Warmup = -1
				}
				for _, s := range strings.Split(sc, ",") {
					if s = strings.TrimSpace(s); s != "" {
						opts.Scenarios = append(opts.Scenarios, s)
					}
				}
				runs := max(1, c.Int("runs"))
				var reps []bench.Report
				for i := 1; i <= runs; i++ {
					if runs > 1 {
						logf("run %d of %d", i, runs)
					}
					r, err := bench.Run(ctx, opts)
					if err != nil {
						return err
					}
					reps = append(reps, r)
				}
				rep := bench.Median(reps)
				if runs > 1 && !c.Bool("json") {
					fmt.Fprintf(w, "median of %d runs\n", runs)
				}
				if c.Bool("json") {
					out["throughput"] = rep
				} else {
					rep.WriteTable(w)
				}
			}
			var ferr error
			if n := c.Int("failover"); n > 0 {
				fo := bench.FailoverOptions{Addr: c.String("addr"), Iterations: n, Timeout: c.Duration("failover-timeout"), Logf: logf,
					Token: tok, DBToken: dbTok}
				rep, err := bench.Failover(ctx, fo)
				if c.Bool("json") {
					out["failover"] = rep
				} else if len(rep.Samples) > 0 {
					fmt.Fprintln(w)
					rep.WriteTable(w)
				}
				ferr = err
			}
			if n := c.Int("switchover"); n > 0 && ferr == nil {
				rep, err := bench.Switchover(ctx, bench.SwitchoverOptions{Addr: c.String("addr"), Iterations: n, Logf: logf,
					Token: tok, DBToken: dbTok})
				if c.Bool("json") {
					out["switchover"] = rep
				} else if len(rep.Samples) > 0 {
					fmt.Fprintln(w)
					rep.WriteTable(w)
				}
				ferr = err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			}
			return ferr
		},
	}
}
