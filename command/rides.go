package command

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/rides"
)

// ridesCommand runs the RideShare rides service.
func ridesCommand() *cli.Command {
	return &cli.Command{
		Name:  "rides",
		Usage: "serve the RideShare rides API (config: service \"rides\")",
		Flags: append(configFlags(), orchestratorFlag(), listenFlag(),
			&cli.StringFlag{Name: "users-url",
				Usage: "load balancer in front of the users service (default: the service's users_url, else http://<gateway.listen>)"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			svc, err := serviceBlock(cfg, "rides")
			if err != nil {
				return err
			}
			usersURL := c.String("users-url")
			if usersURL == "" {
				usersURL = svc.UsersURL
			}
			if usersURL == "" && cfg.Gateway != nil {
				usersURL = httpURL(cfg.Gateway.Listen)
			}
			if usersURL == "" {
				return fmt.Errorf("config %s: service \"rides\" needs users_url (or a gateway block)", cfg.File)
			}
			areas := rides.Areas{Min: svc.AreaMin, Max: svc.AreaMax}
			if areas.Min == 0 && areas.Max == 0 {
				areas.Min, areas.Max = rides.DefaultAreaMin, rides.DefaultAreaMax
			}
			if areas.Min > areas.Max {
				return fmt.Errorf("config %s: service \"rides\": area_min %d is above area_max %d", cfg.File, areas.Min, areas.Max)
			}
			log := logger("rides")
			if svc.AreaNames != "" {
				if areas.Names, err = rides.LoadAreaNames(svc.AreaNames); err != nil {
					return fmt.Errorf("config %s: service \"rides\": %w", cfg.File, err)
				}
				log.Info("area names loaded", "file", svc.AreaNames, "areas", len(areas.Names))
			}
			db := api.NewClient(orchestratorURL(c, cfg), api.WithLogger(log.Named("db")),
				api.WithToken(cfg.Orchestrator.DBToken))
			log.Info("using the DB API and the users service", "orchestrator", db.BaseURL(), "users", usersURL,
				"areas", fmt.Sprintf("%d-%d", areas.Min, areas.Max))
			addr := listenAddr(c, svc.Listen)
			origin := svc.Origin
			if origin == "" {
				origin = rides.DefaultOrigin(addr)
			}
			log.Info("checking users with Origin", "origin", origin)
			srv := rides.New(rides.Config{DB: db, UsersURL: usersURL, Origin: origin, Areas: areas, Log: log})
			return serveUntilSignal(c.Context, log, addr, srv.Handler())
		},
	}
}
