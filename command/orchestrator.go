package command

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/internal/wiring"
)

// orchestratorCommand runs the DB API, the admin API and the supervisor.
func orchestratorCommand() *cli.Command {
	return &cli.Command{
		Name:  "orchestrator",
		Usage: "serve the DB API and supervise the workers",
		Flags: append(configFlags(),
			&cli.BoolFlag{Name: "stop-workers", Usage: "stop every worker when the orchestrator stops (otherwise the next one adopts them)"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			log := logger("orchestrator")
			ctx, stop := untilStopped(c.Context)
			defer stop()
			o, cleanup, err := wiring.NewOrchestrator(ctx, cfg, wiring.OrchestratorOptions{
				Binary: os.Getenv("RIDESHARE_BINARY"), StopWorkers: c.Bool("stop-workers"), Logger: log})
			if err != nil {
				return err
			}
			defer cleanup()
			return o.Run(ctx)
		},
	}
}
