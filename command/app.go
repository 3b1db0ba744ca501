// Package command holds the rideshare CLI: one file per command, as in Nomad.
package command

import (
	"github.com/urfave/cli/v2"
)

// App is the rideshare command line.
func App() *cli.App {
	return &cli.App{
		Before: func(*cli.Context) error { serveProfile(); return nil },
		Name:   "rideshare",
		Usage:  "a small fault-tolerant database-as-a-service for a RideShare backend",
		Commands: []*cli.Command{
			upCommand(),
			orchestratorCommand(),
			workerCommand(),
			usersCommand(),
			ridesCommand(),
			gatewayCommand(),
			statusCommand(),
			crashCommand(),
			switchoverCommand(),
			backupCommand(),
			restoreCommand(),
			benchCommand(),
			pluginCommand(),
		},
	}
}
