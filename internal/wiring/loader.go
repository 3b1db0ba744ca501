package wiring

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/plugins/builtin"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/pluginhost"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Loader loads backends by the names HCL gives them, as Nomad loads its
// drivers: an executable rideshare-<kind>-<name> in PluginDir always runs as a
// go-plugin subprocess; a built-in runs inside this process when InProcess
// is set (the default of a deployment, `builtin_plugins = "in_process"`), or
// else as a go-plugin subprocess served by this binary.
type Loader struct {
	PluginDir string
	// Binary serves the built-in plugins (default: this executable).
	Binary string
	// InProcess links the built-ins in instead of running them as plugins.
	InProcess bool
	Logger    hclog.Logger
	// OnRestart, when set, hears of every restart of a plugin process this
	// loader started (the orchestrator's metrics count them).
	OnRestart func(kind, name string)
}

// LoaderFor is the loader a deployment asks for.
func LoaderFor(cfg *config.Config, binary string, log hclog.Logger) Loader {
	return Loader{PluginDir: AbsDir(cfg.PluginDir), Binary: binary, InProcess: cfg.BuiltinsInProcess(), Logger: log}
}

// linked reports whether kind/name runs inside this process: a built-in,
// with InProcess set, that no executable in PluginDir overrides.
func (l Loader) linked(kind, name string) bool {
	if !l.InProcess || pluginhost.InPluginDir(l.PluginDir, kind, name) {
		return false
	}
	return pluginhost.HasBuiltin(kind, name)
}

func (l Loader) options() pluginhost.LoadOptions {
	log := l.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return pluginhost.LoadOptions{PluginDir: l.PluginDir, Binary: l.Binary, Logger: log, OnRestart: l.OnRestart}
}

// Runtime loads a worker runtime; closing the io.Closer ends its plugin.
func (l Loader) Runtime(ctx context.Context, name string, rc runtime.Config) (runtime.Runtime, io.Closer, error) {
	if l.linked(pluginhost.KindRuntime, name) {
		rt, err := builtin.Runtime(ctx, name, rc, l.Logger)
		if err != nil {
			return nil, nil, fmt.Errorf("runtime %q: %w", name, err)
		}
		return rt, io.NopCloser(nil), nil
	}
	rt, closer, err := pluginhost.LoadRuntime(ctx, name, rc, l.options())
	if err != nil {
		return nil, nil, fmt.Errorf("runtime %q: %w", name, err)
	}
	return rt, closer, nil
}

// Election opens a session with an election backend; Close ends it (and
// its plugin).
func (l Loader) Election(ctx context.Context, name string, ec election.Config) (election.Election, error) {
	var el election.Election
	var err error
	if l.linked(pluginhost.KindElection, name) {
		el, err = builtin.Election(ctx, name, ec, l.Logger)
	} else {
		el, err = pluginhost.LoadElection(ctx, name, ec, l.options())
	}
	if err != nil {
		return nil, fmt.Errorf("election %q: %w", name, err)
	}
	return el, nil
}

// Storage opens one worker's database; Close or Destroy ends it (and its
// plugin).
func (l Loader) Storage(ctx context.Context, name string, sc storage.Config) (storage.Storage, error) {
	var st storage.Storage
	var err error
	if l.linked(pluginhost.KindStorage, name) {
		st, err = builtin.Storage(ctx, name, sc)
	} else {
		st, err = pluginhost.LoadStorage(ctx, name, sc, l.options())
	}
	if err != nil {
		return nil, fmt.Errorf("storage %q for worker %s: %w", name, sc.WorkerID, err)
	}
	return st, nil
}

// RuntimeConfig is the runtime's settings for a deployment: its options are
// the runtime block's, over the data_dir and stack every runtime receives.
func RuntimeConfig(cfg *config.Config, binary string) runtime.Config {
	opts := map[string]string{runtime.OptionDataDir: AbsDir(cfg.DataDir), runtime.OptionStack: cfg.Stack}
	for k, v := range cfg.Runtime.Options {
		opts[k] = v
	}
	return runtime.Config{Binary: binary, StateDir: filepath.Join(AbsDir(cfg.DataDir), "run"), Options: opts}
}
