package command

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/users"
)

// usersCommand runs the RideShare users service.
func usersCommand() *cli.Command {
	return &cli.Command{
		Name:  "users",
		Usage: "serve the RideShare users API (config: service \"users\")",
		Flags: append(configFlags(), orchestratorFlag(), listenFlag()),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			svc, err := serviceBlock(cfg, "users")
			if err != nil {
				return err
			}
			log := logger("users")
			db := api.NewClient(orchestratorURL(c, cfg), api.WithLogger(log.Named("db")),
				api.WithToken(cfg.Orchestrator.DBToken))
			log.Info("using the DB API", "orchestrator", db.BaseURL())
			srv := users.New(users.Config{DB: db, Log: log})
			return serveUntilSignal(c.Context, log, listenAddr(c, svc.Listen), srv.Handler())
		},
	}
}

// orchestratorFlag names the orchestrator a service sends DB API calls to.
func orchestratorFlag() cli.Flag {
	return &cli.StringFlag{Name: "orchestrator", EnvVars: []string{"RIDESHARE_ORCHESTRATOR"},
		Usage: "orchestrator base URL (default: http://<orchestrator.listen> from the config)"}
}

// orchestratorURL is the -orchestrator flag, or http://<orchestrator.listen>.
func orchestratorURL(c *cli.Context, cfg *config.Config) string {
	if u := c.String("orchestrator"); u != "" {
		return u
	}
	return httpURL(cfg.Orchestrator.Listen)
}

// httpURL turns a listen address into a URL a client can call: an empty or
// unspecified host (":8083", "0.0.0.0:8083") becomes 127.0.0.1.
func httpURL(listen string) string {
	switch {
	case strings.HasPrefix(listen, ":"):
		listen = "127.0.0.1" + listen
	case strings.HasPrefix(listen, "0.0.0.0:"):
		listen = "127.0.0.1" + strings.TrimPrefix(listen, "0.0.0.0")
	case strings.HasPrefix(listen, "[::]:"):
		listen = "127.0.0.1" + strings.TrimPrefix(listen, "[::]")
	}
	return "http://" + listen
}

// serviceBlock is the config's service block of that name.
func serviceBlock(cfg *config.Config, name string) (config.Service, error) {
	svc, ok := cfg.Service(name)
	if !ok {
		return svc, fmt.Errorf("config %s: no service %q block", cfg.File, name)
	}
	return svc, nil
}
