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

// ServeRuntime, ServeStorage and ServeElection serve one implementation of
// a kind as a plugin over gRPC: each is the whole main of a plugin binary.
// The factory runs when the host sends Configure/Open, with a ctx that lives
// as long as the process and carries the plugin's logger
// (hclog.FromContext); hclog's default logger is set to that logger too.
//
// They block until the host ends the plugin, then close what is still open
// (storage database, election session). Run by hand (without the host's
// magic cookie) they print a notice and exit 1. The process exits on its own
// when its parent process goes away.
func ServeRuntime(name string, f runtime.Factory) error {
	return serve(KindRuntime, name, f, Handshake)
}

// ServeStorage: see ServeRuntime.
func ServeStorage(name string, open storage.Opener) error {
	return serve(KindStorage, name, open, Handshake)
}

// ServeElection: see ServeRuntime.
func ServeElection(name string, f election.Factory) error {
	return serve(KindElection, name, f, Handshake)
}

// ServeBuiltin serves the built-in kind/name (the "rideshare plugin <kind>
// <name>" command).
func ServeBuiltin(kind, name string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	builtinsMu.RLock()
	c := builtins
	builtinsMu.RUnlock()
	if !c.Has(kind, name) {
		return fmt.Errorf("no built-in %s plugin %q (built-in: %v)", kind, name, c.Names(kind))
	}
	switch kind {
	case KindRuntime:
		return serve(kind, name, c.Runtimes[name], Handshake)
	case KindStorage:
		return serve(kind, name, c.Storages[name], Handshake)
	default:
		return serve(kind, name, c.Elections[name], Handshake)
	}
}

// closeOpener is a kind plugin that may hold something to close at exit.
type closeOpener interface{ CloseOpen() error }

// factory is one kind's factory type.
type factory interface {
	runtime.Factory | storage.Opener | election.Factory
}

// serve serves f with an explicit handshake (tests serve a wrong one).
func serve[F factory](kind, name string, f F, hs plugin.HandshakeConfig) error {
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
	switch f := any(f).(type) {
	case runtime.Factory:
		p = &runtime.Plugin{Factory: f, Context: ctx}
	case storage.Opener:
		p = &storage.Plugin{Opener: f, Context: ctx}
	case election.Factory:
		p = &election.Plugin{Factory: f, Context: ctx}
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
