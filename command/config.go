package command

import (
	"encoding/json"
	"fmt"
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

// envUpVars carries the -var settings of `rideshare up` to the tasks it
// starts, as a JSON list of "name=value": in their environment, not on their
// command lines, which every user of the machine can read (ps) and the task
// runtime records in its state files, since a variable may hold a token or
// a password. A task applies them before its own -var settings.
const envUpVars = "RIDESHARE_UP_VARS"

// upVars is the environment that hands c's -var settings to up's tasks.
func upVars(c *cli.Context) (map[string]string, error) {
	vars := c.StringSlice("var")
	if len(vars) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return nil, fmt.Errorf("encode -var settings: %w", err)
	}
	return map[string]string{envUpVars: string(b)}, nil
}

// inheritedVars are the -var settings `rideshare up` handed this task. They
// are taken out of the environment once read: the processes this task
// starts (workers, plugins) have no use for them.
func inheritedVars() ([]string, error) {
	raw := os.Getenv(envUpVars)
	if raw == "" {
		return nil, nil
	}
	os.Unsetenv(envUpVars)
	var vars []string
	if err := json.Unmarshal([]byte(raw), &vars); err != nil {
		return nil, fmt.Errorf("%s: not a JSON list of name=value: %w", envUpVars, err)
	}
	return vars, nil
}

// loadConfig reads the deployment named by the config flags (with the -var
// settings `rideshare up` handed down, if any) and checks the options of
// its built-in backends.
func loadConfig(c *cli.Context) (*config.Config, error) {
	vars, err := inheritedVars()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(c.String("config"), append(vars, c.StringSlice("var")...))
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
