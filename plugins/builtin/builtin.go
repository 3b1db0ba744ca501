// Package builtin maps the names used in HCL (runtime "process", storage
// "sqlite", …) to the implementations compiled into the rideshare binary.
// The plugin host serves these same constructors as go-plugin subprocesses.
package builtin

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/election/zookeeper"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/docker"
	"github.com/rideshare/dbaas/plugins/runtime/process"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/postgres"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
)

// Runtimes are the built-in worker runtimes.
var Runtimes = map[string]func(context.Context, runtime.Config, hclog.Logger) (runtime.Runtime, error){
	"process": func(ctx context.Context, c runtime.Config, l hclog.Logger) (runtime.Runtime, error) {
		return process.New(ctx, c, l)
	},
	"docker": func(ctx context.Context, c runtime.Config, l hclog.Logger) (runtime.Runtime, error) {
		return docker.New(ctx, c, l)
	},
}

// Storages are the built-in storage backends.
var Storages = map[string]storage.Opener{
	"sqlite":   sqlite.Open,
	"postgres": postgres.Open,
}

// Elections are the built-in election backends.
var Elections = map[string]func(context.Context, election.Config, hclog.Logger) (election.Election, error){
	"zookeeper": func(ctx context.Context, c election.Config, l hclog.Logger) (election.Election, error) {
		return zookeeper.New(ctx, c, l)
	},
}

// Runtime starts the named built-in runtime.
func Runtime(ctx context.Context, name string, cfg runtime.Config, log hclog.Logger) (runtime.Runtime, error) {
	f, ok := Runtimes[name]
	if !ok {
		return nil, fmt.Errorf("runtime %q is not built in (built in: %v)", name, names(Runtimes))
	}
	return f(ctx, cfg, log)
}

// Storage opens the named built-in storage.
func Storage(ctx context.Context, name string, cfg storage.Config) (storage.Storage, error) {
	f, ok := Storages[name]
	if !ok {
		return nil, fmt.Errorf("storage %q is not built in (built in: %v)", name, names(Storages))
	}
	return f(ctx, cfg)
}

// Election opens the named built-in election backend.
func Election(ctx context.Context, name string, cfg election.Config, log hclog.Logger) (election.Election, error) {
	f, ok := Elections[name]
	if !ok {
		return nil, fmt.Errorf("election %q is not built in (built in: %v)", name, names(Elections))
	}
	return f(ctx, cfg, log)
}

func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
