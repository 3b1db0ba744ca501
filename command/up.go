package command

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/config"
	"github.com/rideshare/dbaas/deployment"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
)

// upTask is one long-running part of the local stack, run as a raw process
// like a Nomad raw_exec task.
type upTask struct {
	name   string
	args   []string
	health string // URL answering 200 once the task serves
}

// upCommand launches the whole local stack in the foreground and stops all
// of it, workers included, on Ctrl-C or SIGTERM (invariant 7).
func upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "run the whole stack here: orchestrator (and its workers), users, rides, gateway",
		Flags: append(configFlags(),
			&cli.DurationFlag{Name: "ready-timeout", Value: 60 * time.Second, Usage: "how long each part may take to become healthy"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return up(ctx, c, cfg)
		},
	}
}

func up(ctx context.Context, c *cli.Context, cfg *config.Config) error {
	out := c.App.Writer
	log := logger("up")
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the rideshare binary: %w", err)
	}
	dataDir := deployment.AbsDir(cfg.DataDir)
	// The tasks' own runtime state lives apart from the workers', so the
	// orchestrator never mistakes a service for a worker to adopt.
	// The progress lines below say what the task runtime would log at info.
	taskLog := log.Named("tasks")
	taskLog.SetLevel(hclog.Warn)
	rt, err := process.New(ctx, runtime.Config{Binary: self, StateDir: filepath.Join(dataDir, "up")}, taskLog)
	if err != nil {
		return err
	}
	common := []string{"-config", c.String("config")}
	for _, v := range c.StringSlice("var") {
		common = append(common, "-var", v)
	}
	tasks := []upTask{{name: "orchestrator", args: append([]string{"orchestrator", "-stop-workers"}, common...),
		health: "http://" + cfg.Orchestrator.Listen + "/healthz"}}
	for _, name := range []string{"users", "rides"} {
		svc, ok := cfg.Service(name)
		if !ok {
			return fmt.Errorf("config %s: no service %q block", cfg.File, name)
		}
		tasks = append(tasks, upTask{name: name, args: append([]string{name}, common...), health: "http://" + svc.Listen + "/healthz"})
	}
	if cfg.Gateway == nil {
		return fmt.Errorf("config %s: no gateway block", cfg.File)
	}
	tasks = append(tasks, upTask{name: "gateway", args: append([]string{"gateway"}, common...), health: "http://" + cfg.Gateway.Listen + "/healthz"})

	exits, err := rt.Exits(ctx)
	if err != nil {
		return err
	}
	// Tasks a crashed earlier `up` left behind are stopped first: their
	// ports would be taken.
	if old, _ := rt.List(ctx); len(old) > 0 {
		fmt.Fprintf(out, "stopping %d task(s) left by an earlier run\n", len(old))
		for _, h := range old {
			_ = rt.Stop(context.WithoutCancel(ctx), h.ID, 10*time.Second)
		}
	}
	var started []upTask
	defer func() { shutdown(rt, cfg, self, started, out, log) }()

	fmt.Fprintf(out, "rideshare up: %s (runtime %s, storage %s, election %s), data in %s\n",
		cfg.File, cfg.Runtime.Name, cfg.Storage.Name, cfg.Election.Name, dataDir)
	for _, t := range tasks {
		h, err := rt.Start(ctx, runtime.Spec{ID: t.name, Args: t.args,
			LogPath: filepath.Join(dataDir, "logs", t.name+".log")})
		if err != nil {
			return fmt.Errorf("start %s: %w", t.name, err)
		}
		started = append(started, t)
		fmt.Fprintf(out, "  … %-12s starting (pid %d)\n", t.name, h.PID)
		if err := waitHealthy(ctx, t, exits, c.Duration("ready-timeout")); err != nil {
			return fmt.Errorf("%s did not become healthy: %w (see %s)", t.name, err,
				filepath.Join(dataDir, "logs", t.name+".log"))
		}
		fmt.Fprintf(out, "  ✓ %-12s %s\n", t.name, t.health[:len(t.health)-len("/healthz")])
	}
	fmt.Fprintf(out, "ready: the RideShare API is at http://%s/api/v1/ — Ctrl-C stops everything\n", cfg.Gateway.Listen)

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping…")
		return nil
	case x := <-exits:
		return fmt.Errorf("%s exited unexpectedly (code %d); stopping the stack (see %s)", x.ID, x.ExitCode,
			filepath.Join(dataDir, "logs", x.ID+".log"))
	}
}

// waitHealthy waits until the task's health URL answers 200.
func waitHealthy(ctx context.Context, t upTask, exits <-chan runtime.Exit, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(t.health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case x := <-exits:
			return fmt.Errorf("%s exited with code %d", x.ID, x.ExitCode)
		case <-deadline.C:
			return errors.New("timed out")
		case <-tick.C:
		}
	}
}

// shutdown stops the tasks in reverse order — the orchestrator last, which
// stops its workers — then kills any worker still alive, so nothing is left.
func shutdown(rt *process.Runtime, cfg *config.Config, self string, started []upTask, out interface{ Write([]byte) (int, error) }, log hclog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := len(started) - 1; i >= 0; i-- {
		t := started[i]
		if err := rt.Stop(ctx, t.name, 20*time.Second); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			log.Warn("stop task", "task", t.name, "error", err)
		}
		fmt.Fprintf(out, "  ■ %s stopped\n", t.name)
	}
	wrt, closer, err := deployment.LoaderFor(cfg, self, hclog.NewNullLogger()).Runtime(ctx, cfg.Runtime.Name, deployment.RuntimeConfig(cfg, self))
	if err != nil {
		return
	}
	defer closer.Close()
	left, _ := wrt.List(ctx)
	for _, h := range left {
		log.Warn("killing a worker the orchestrator left running", "id", h.ID, "pid", h.PID)
		_ = wrt.Kill(ctx, h.ID)
	}
}
