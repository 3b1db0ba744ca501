package command

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/internal/wiring"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/worker"
)

// workerCommand runs one database worker. The orchestrator starts workers with
// their settings in RIDESHARE_WORKER; by hand, -config and -id do the same.
func workerCommand() *cli.Command {
	return &cli.Command{
		Name:  "worker",
		Usage: "run one database worker (normally started by the orchestrator)",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "id", Usage: "worker id, when started by hand with -config"},
		),
		Subcommands: []*cli.Command{workerListCommand()},
		Action: func(c *cli.Context) error {
			wc, err := workerSettings(c)
			if err != nil {
				return err
			}
			log := logger("worker").With("id", wc.ID, "pid", os.Getpid())
			ctx, stop := untilStopped(c.Context)
			defer stop()

			load := wiring.Loader{PluginDir: wc.PluginDir, InProcess: wc.InProcess, Logger: log.Named("plugins")}
			st, err := load.Storage(ctx, wc.StoragePlugin, wc.Storage)
			if err != nil {
				return err
			}
			defer st.Close()
			el, err := load.Election(ctx, wc.ElectionPlugin, wc.Election)
			if err != nil {
				return err
			}
			w := worker.New(wc, st, el, log)
			defer w.CloseElection()
			w.ReopenWith(func(ctx context.Context) (election.Election, error) {
				return load.Election(ctx, wc.ElectionPlugin, wc.Election)
			})
			err = w.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error("worker stopped", "error", err)
				return err
			}
			log.Info("worker stopped")
			return nil
		},
	}
}

func workerSettings(c *cli.Context) (worker.Config, error) {
	if env := os.Getenv(worker.EnvConfig); env != "" {
		return worker.ParseConfig(env)
	}
	if c.String("id") == "" {
		return worker.Config{}, fmt.Errorf("worker: no %s in the environment; give -id (and -config) to start one by hand", worker.EnvConfig)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return worker.Config{}, err
	}
	wc := wiring.WorkerConfig(cfg, c.String("id"))
	return worker.ParseConfig(wc.Encode())
}
