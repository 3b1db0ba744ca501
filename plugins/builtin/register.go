package builtin

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/pluginhost"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// The built-ins are registered with the plugin host, so that
// `rideshare plugin <kind> <name>` serves them as go-plugin plugins.
func init() {
	for name, f := range Runtimes {
		f := f
		pluginhost.RegisterRuntime(name, func(ctx context.Context, c runtime.Config) (runtime.Runtime, error) {
			return f(ctx, c, hclog.FromContext(ctx))
		})
	}
	for name, open := range Storages {
		pluginhost.RegisterStorage(name, open)
	}
	for name, f := range Elections {
		f := f
		pluginhost.RegisterElection(name, func(ctx context.Context, c election.Config) (election.Election, error) {
			return f(ctx, c, hclog.FromContext(ctx))
		})
	}
}
