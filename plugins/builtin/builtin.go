// Package builtin is the one table of the backends compiled into the
// rideshare binary, by the names HCL uses (runtime "process", storage
// "sqlite", …). The plugin host serves these same factories as go-plugin
// subprocesses; a deployment links them in when its built-ins run in
// process.
package builtin

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/election/zookeeper"
	"github.com/rideshare/dbaas/plugins/pluginhost"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/docker"
	"github.com/rideshare/dbaas/plugins/runtime/process"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/postgres"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
)

// Catalog is every built-in backend. A factory finds its logger in its
// context (hclog.FromContext), as it does when served as a plugin.
var Catalog = pluginhost.Catalog{
	Runtimes: map[string]runtime.Factory{
		"process": func(ctx context.Context, c runtime.Config) (runtime.Runtime, error) {
			return process.New(ctx, c, hclog.FromContext(ctx))
		},
		"docker": func(ctx context.Context, c runtime.Config) (runtime.Runtime, error) {
			return docker.New(ctx, c, hclog.FromContext(ctx))
		},
	},
	Storages: map[string]storage.Opener{
		"sqlite":   sqlite.Open,
		"postgres": postgres.Open,
	},
	Elections: map[string]election.Factory{
		"zookeeper": func(ctx context.Context, c election.Config) (election.Election, error) {
			return zookeeper.New(ctx, c, hclog.FromContext(ctx))
		},
	},
	Options: map[string]map[string]pluginhost.OptionsCheck{
		pluginhost.KindRuntime:  {"process": process.ValidateOptions, "docker": docker.ValidateOptions},
		pluginhost.KindStorage:  {"sqlite": sqlite.ValidateOptions, "postgres": postgres.ValidateOptions},
		pluginhost.KindElection: {"zookeeper": zookeeper.ValidateOptions},
	},
}

// The built-ins are the plugin host's, so that `rideshare plugin <kind>
// <name>` serves them and a host finds them.
func init() { pluginhost.UseBuiltins(Catalog) }

// Runtime starts the named built-in runtime.
func Runtime(ctx context.Context, name string, cfg runtime.Config, log hclog.Logger) (runtime.Runtime, error) {
	f, ok := Catalog.Runtimes[name]
	if !ok {
		return nil, notBuiltIn(pluginhost.KindRuntime, name)
	}
	return f(hclog.WithContext(ctx, log), cfg)
}

// Storage opens the named built-in storage.
func Storage(ctx context.Context, name string, cfg storage.Config) (storage.Storage, error) {
	f, ok := Catalog.Storages[name]
	if !ok {
		return nil, notBuiltIn(pluginhost.KindStorage, name)
	}
	return f(ctx, cfg)
}

// Election opens the named built-in election backend.
func Election(ctx context.Context, name string, cfg election.Config, log hclog.Logger) (election.Election, error) {
	f, ok := Catalog.Elections[name]
	if !ok {
		return nil, notBuiltIn(pluginhost.KindElection, name)
	}
	return f(hclog.WithContext(ctx, log), cfg)
}

func notBuiltIn(kind, name string) error {
	return fmt.Errorf("%s %q is not built in (built in: %v)", kind, name, Catalog.Names(kind))
}
