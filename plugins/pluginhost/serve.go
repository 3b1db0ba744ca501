package pluginhost

import (
	"context"
	"fmt"
	"os"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	"github.com/rideshare/dbaas/internal/procfs"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Serve serves one implementation of kind as a plugin over gRPC: it is the
// whole main of a plugin binary. impl is the kind's factory (see Register for
// the accepted types); it runs when the host sends Configure/Open, with a ctx
// that lives as long as the process and carries the plugin's logger
// (hclog.FromContext). hclog's default logger is set to that logger too.
//
// Serve blocks until the host ends the plugin, then closes what is still open
// (storage database, election session). Run by hand (without the host's
// magic cookie) it prints a notice and exits 1. The process exits on its own
// when its parent process goes away.
func Serve(kind, name string, impl any) error {
	return serve(kind, name, impl, Handshake)
}

// ServeBuiltin serves the registered built-in kind/name (the "rideshare
// plugin <kind> <name>" command).
func ServeBuiltin(kind, name string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	f, ok := Builtin(kind, name)
	if !ok {
		return fmt.Errorf("no built-in %s plugin %q (built-in: %v)", kind, name, Builtins(kind))
	}
	return serve(kind, name, f, Handshake)
}

// closeOpener is a kind plugin that may hold something to close at exit.
type closeOpener interface{ CloseOpen() error }

// serve is Serve with an explicit handshake (tests serve a wrong one).
func serve(kind, name string, impl any, hs plugin.HandshakeConfig) error {
	f, err := normalizeFactory(kind, impl)
	if err != nil {
		return fmt.Errorf("serve %s plugin %q: %w", kind, name, err)
	}
	level := hclog.LevelFromString(os.Getenv(EnvLogLevel))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       kind + "." + name,
		Level:      level,
		Output:     os.Stderr,
		JSONFormat: true, // go-plugin relays JSON lines into the host's logger
	})
	hclog.SetDefault(logger)
	ctx, cancel := context.WithCancel(hclog.WithContext(context.Background(), logger))
	defer cancel()

	var p plugin.Plugin
	switch kind {
	case KindRuntime:
		p = &runtime.Plugin{Factory: f.(runtime.Factory), Context: ctx}
	case KindStorage:
		p = &storage.Plugin{Opener: f.(storage.Opener), Context: ctx}
	case KindElection:
		p = &election.Plugin{Factory: f.(election.Factory), Context: ctx}
	}
	closeOpen := func() {
		if c, ok := p.(closeOpener); ok {
			if err := c.CloseOpen(); err != nil {
				logger.Error("closing at exit", "error", err)
			}
		}
	}
	go watchParent(logger, func() {
		cancel()
		closeOpen()
		os.Exit(1)
	})

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         plugin.PluginSet{kind: p},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          logger,
	})
	cancel()
	closeOpen()
	return nil
}

// watchParent calls gone once the process that started this one has exited
// (this process was re-parented) or has been stopped (SIGSTOP, a debugger)
// for longer than hostStoppedLimit. Polling getppid works everywhere, unlike
// a parent-death signal, which fires when the forking thread (not process)
// ends. A stopped host is treated as gone because its plugins would
// otherwise speak for it: an election plugin would keep a frozen master's
// ZooKeeper session, and so its lead, alive for as long as it is frozen.
func watchParent(logger hclog.Logger, gone func()) {
	parent := os.Getppid()
	if parent <= 1 {
		return
	}
	var stoppedSince time.Time
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			logger.Error("host process went away; plugin exiting", "host_pid", parent)
			gone()
			return
		}
		if !procfs.Stopped(parent) {
			stoppedSince = time.Time{}
			continue
		}
		if stoppedSince.IsZero() {
			stoppedSince = time.Now()
		}
		if time.Since(stoppedSince) > hostStoppedLimit {
			logger.Error("host process stopped; plugin exiting so that it does not act for a frozen host", "host_pid", parent, "stopped_for", time.Since(stoppedSince).Round(time.Millisecond))
			gone()
			return
		}
	}
}

// hostStoppedLimit is how long a host may stay stopped before its plugins
// exit: about a ZooKeeper session timeout, so a frozen master loses its lead
// about as soon as one whose election runs in-process would.
const hostStoppedLimit = 2 * time.Second
