package command

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/wiring"
)

// configFlags are the flags of every command that reads a deployment file.
func configFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Value: "hcl/local.hcl", EnvVars: []string{"RIDESHARE_CONFIG"},
			Usage: "deployment file (HCL); a shipped name like hcl/local.hcl works without the file"},
		&cli.StringSliceFlag{Name: "var", Usage: "set an input variable: -var name=value (repeatable)"},
	}
}

// loadConfig reads the deployment named by the config flags and checks the
// options of its built-in backends.
func loadConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := config.Load(c.String("config"), c.StringSlice("var"))
	if err != nil {
		return nil, err
	}
	if err := wiring.CheckOptions(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// logger is the go-hclog logger of a long-running command.
func logger(name string) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("RIDESHARE_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: os.Stderr})
}
