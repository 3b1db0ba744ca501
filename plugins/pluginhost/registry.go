package pluginhost

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// The registry holds the built-in implementations: the ones this binary can
// serve with "rideshare plugin <kind> <name>", and that a host finds when no
// executable of that name is in its plugin dir. It is filled at start-up
// (main or init functions) and read-only afterwards.
var (
	registryMu sync.RWMutex
	registry   = map[string]map[string]any{}
)

// Register records a built-in implementation. factory must fit kind:
//   - runtime:  runtime.Factory  or func(context.Context, runtime.Config) (runtime.Runtime, error)
//   - storage:  storage.Opener   or func(context.Context, storage.Config) (storage.Storage, error)
//   - election: election.Factory or func(context.Context, election.Config) (election.Election, error)
//
// Like database/sql.Register it panics on a programming error: unknown kind,
// empty name, wrong factory type, or a name registered twice.
func Register(kind, name string, factory any) {
	f, err := normalizeFactory(kind, factory)
	if err != nil {
		panic(fmt.Sprintf("pluginhost.Register(%q, %q): %v", kind, name, err))
	}
	if err := checkName(name); err != nil {
		panic(fmt.Sprintf("pluginhost.Register(%q, %q): %v", kind, name, err))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if registry[kind] == nil {
		registry[kind] = map[string]any{}
	}
	if _, dup := registry[kind][name]; dup {
		panic(fmt.Sprintf("pluginhost.Register: %s plugin %q registered twice", kind, name))
	}
	registry[kind][name] = f
}

// RegisterRuntime registers a built-in runtime.
func RegisterRuntime(name string, f runtime.Factory) { Register(KindRuntime, name, f) }

// RegisterStorage registers a built-in storage backend.
func RegisterStorage(name string, open storage.Opener) { Register(KindStorage, name, open) }

// RegisterElection registers a built-in election backend.
func RegisterElection(name string, f election.Factory) { Register(KindElection, name, f) }

// Builtin returns the registered factory (runtime.Factory, storage.Opener or
// election.Factory) of kind/name.
func Builtin(kind, name string) (any, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := registry[kind][name]
	return f, ok
}

// Builtins lists the registered names of kind, sorted.
func Builtins(kind string) []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry[kind]))
	for n := range registry[kind] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// normalizeFactory converts factory to the kind's named factory type.
func normalizeFactory(kind string, factory any) (any, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	switch f := factory.(type) {
	case runtime.Factory:
		if kind == KindRuntime && f != nil {
			return f, nil
		}
	case func(context.Context, runtime.Config) (runtime.Runtime, error):
		if kind == KindRuntime && f != nil {
			return runtime.Factory(f), nil
		}
	case storage.Opener:
		if kind == KindStorage && f != nil {
			return f, nil
		}
	case func(context.Context, storage.Config) (storage.Storage, error):
		if kind == KindStorage && f != nil {
			return storage.Opener(f), nil
		}
	case election.Factory:
		if kind == KindElection && f != nil {
			return f, nil
		}
	case func(context.Context, election.Config) (election.Election, error):
		if kind == KindElection && f != nil {
			return election.Factory(f), nil
		}
	}
	return nil, fmt.Errorf("%T is not a %s factory", factory, kind)
}

// checkName refuses names that could escape the plugin dir or the
// rideshare-<kind>-<name> pattern.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty plugin name")
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok || name == "." || name == ".." {
			return fmt.Errorf("bad plugin name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}
