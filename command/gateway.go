package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/gateway"
)

// gatewayCommand runs the local stand-in for the application load balancer.
func gatewayCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "serve the local load balancer: path-prefix rules to the users and rides services",
		Flags: append(configFlags(), listenFlag()),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			if cfg.Gateway == nil {
				return fmt.Errorf("config %s: no gateway block", cfg.File)
			}
			log := logger("gateway")
			g, err := gateway.New(cfg.Gateway.Routes, log)
			if err != nil {
				return fmt.Errorf("config %s: %w", cfg.File, err)
			}
			for _, r := range cfg.Gateway.Routes {
				log.Info("route", "path", r.Path, "target", r.Target)
			}
			return serveUntilSignal(c.Context, log, listenAddr(c, cfg.Gateway.Listen), g)
		},
	}
}

// listenFlag overrides the listen address a config block gives.
func listenFlag() cli.Flag {
	return &cli.StringFlag{Name: "listen", Usage: "listen address (default: the config's)"}
}

// listenAddr is the -listen flag, or def from the config.
func listenAddr(c *cli.Context, def string) string {
	if l := c.String("listen"); l != "" {
		return l
	}
	return def
}

// shutdownGrace bounds how long in-flight requests may finish on shutdown.
const shutdownGrace = 10 * time.Second

// serveUntilSignal serves h on addr until SIGINT, SIGTERM or ctx ends, then
// stops accepting and lets in-flight requests finish (bounded by shutdownGrace).
func serveUntilSignal(ctx context.Context, log hclog.Logger, addr string, h http.Handler) error {
	ctx, stop := untilStopped(ctx)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	return nil
}
