package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/wiring"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
)

// How `up` restarts a task that exited on its own, as Nomad's restart block
// in "delay" mode: it never gives up, it backs off.
const (
	DefaultRestartDelay      = 250 * time.Millisecond // before the first restart
	DefaultRestartMaxDelay   = 30 * time.Second       // the delay doubles up to this
	DefaultRestartResetAfter = 30 * time.Second       // a task up this long starts over at the first delay
)

// upTask is one long-running part of the local stack, run as a raw process
// like a Nomad raw_exec task.
type upTask struct {
	name   string
	args   []string
	env    map[string]string
	health string // URL answering 200 once the task serves
	log    string // where its stdout and stderr go
}

func (t upTask) spec() runtime.Spec {
	return runtime.Spec{ID: t.name, Args: t.args, Env: t.env, LogPath: t.log}
}

// upCommand launches the whole local stack in the foreground, restarts a
// task that exits, and stops all of it, workers included, on Ctrl-C or
// SIGTERM (invariant 7).
func upCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "run the whole stack here: orchestrator (and its workers), users, rides, gateway",
		Flags: append(configFlags(),
			&cli.DurationFlag{Name: "ready-timeout", Value: 60 * time.Second, Usage: "how long each part may take to become healthy"},
			&cli.DurationFlag{Name: "restart-delay", Value: DefaultRestartDelay, Usage: "wait this long before restarting a task that exited"},
			&cli.DurationFlag{Name: "restart-max-delay", Value: DefaultRestartMaxDelay, Usage: "the restart delay doubles up to this"},
			&cli.DurationFlag{Name: "restart-reset-after", Value: DefaultRestartResetAfter, Usage: "a task that ran this long is restarted after -restart-delay again"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			// A terminal or pipe that goes away must not kill `up` before it
			// stops its tasks: writes to it fail instead.
			signal.Ignore(syscall.SIGPIPE)
			ctx, stop := untilStopped(c.Context)
			defer stop()
			return up(ctx, c, cfg)
		},
	}
}

func up(ctx context.Context, c *cli.Context, cfg *config.Config) error {
	policy, err := restartPolicyFrom(c)
	if err != nil {
		return err
	}
	out := c.App.Writer
	log := logger("up")
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the rideshare binary: %w", err)
	}
	dataDir := wiring.AbsDir(cfg.DataDir)
	// The tasks' own runtime state lives apart from the workers', so the
	// orchestrator never mistakes a service for a worker to adopt.
	// The progress lines below say what the task runtime would log at info.
	taskLog := log.Named("tasks")
	taskLog.SetLevel(hclog.Warn)
	rt, err := process.New(ctx, runtime.Config{Binary: self, StateDir: filepath.Join(dataDir, "up")}, taskLog)
	if err != nil {
		return err
	}
	// Every task reads the same deployment: the file on its command line,
	// the -var settings (tokens, broker passwords) in its environment.
	common := []string{"-config", c.String("config")}
	env, err := upVars(c)
	if err != nil {
		return err
	}
	task := func(name, listen string, args ...string) upTask {
		return upTask{name: name, args: append(append([]string{name}, args...), common...), env: env,
			health: "http://" + listen + api.RouteHealthz, log: filepath.Join(dataDir, "logs", name+".log")}
	}
	tasks := []upTask{task("orchestrator", cfg.Orchestrator.Listen, "-stop-workers")}
	for _, name := range []string{"users", "rides"} {
		svc, ok := cfg.Service(name)
		if !ok {
			return fmt.Errorf("config %s: no service %q block", cfg.File, name)
		}
		tasks = append(tasks, task(name, svc.Listen))
	}
	if cfg.Gateway == nil {
		return fmt.Errorf("config %s: no gateway block", cfg.File)
	}
	tasks = append(tasks, task("gateway", cfg.Gateway.Listen))

	exits, err := rt.Exits(ctx)
	if err != nil {
		return err
	}
	// Tasks a crashed earlier `up` left behind are stopped first: their
	// ports would be taken. Their exits come on exits too, so exits are
	// matched to this run's tasks by pid.
	if old, _ := rt.List(ctx); len(old) > 0 {
		fmt.Fprintf(out, "stopping %d task(s) left by an earlier run\n", len(old))
		for _, h := range old {
			_ = rt.Stop(context.WithoutCancel(ctx), h.ID, 10*time.Second)
		}
	}
	var started []upTask
	pids := map[string]int{} // task name → pid of the process this run started
	defer func() { shutdown(rt, cfg, self, started, out, log) }()

	fmt.Fprintf(out, "rideshare up: %s (runtime %s, storage %s, election %s), data in %s\n",
		cfg.File, cfg.Runtime.Name, cfg.Storage.Name, cfg.Election.Name, dataDir)
	// A task that does not come up the first time fails `up` at once: that
	// is a configuration or environment problem, which restarting would
	// only hide. Once the stack was ready, tasks are restarted instead.
	for _, t := range tasks {
		h, err := rt.Start(ctx, t.spec())
		if err != nil {
			return fmt.Errorf("start %s: %w", t.name, err)
		}
		started = append(started, t)
		pids[t.name] = h.PID
		fmt.Fprintf(out, "  … %-12s starting (pid %d)\n", t.name, h.PID)
		if err := waitHealthy(ctx, t, exits, pids, c.Duration("ready-timeout")); err != nil {
			return fmt.Errorf("%s did not become healthy: %w (see %s)", t.name, err, t.log)
		}
		fmt.Fprintf(out, "  ✓ %-12s %s\n", t.name, t.health[:len(t.health)-len(api.RouteHealthz)])
	}
	fmt.Fprintf(out, "ready: the RideShare API is at http://%s/api/v1/ — Ctrl-C stops everything\n", cfg.Gateway.Listen)

	supervise(ctx, rt, tasks, pids, exits, policy, out)
	fmt.Fprintln(out, "\nstopping…")
	return nil
}

// waitHealthy waits until the task's health URL answers 200, failing if a
// task of this run (pids) exits meanwhile.
func waitHealthy(ctx context.Context, t upTask, exits <-chan runtime.Exit, pids map[string]int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !healthy(ctx, t.health) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case x, ok := <-exits:
			if !ok {
				return ctx.Err() // closed as ctx ended
			}
			if pids[x.ID] == x.PID {
				return fmt.Errorf("%s exited with code %d", x.ID, x.ExitCode)
			}
		case <-deadline.C:
			return errors.New("timed out")
		case <-tick.C:
		}
	}
	return nil
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
	wrt, closer, err := wiring.LoaderFor(cfg, self, hclog.NewNullLogger()).Runtime(ctx, cfg.Runtime.Name, wiring.RuntimeConfig(cfg, self))
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
