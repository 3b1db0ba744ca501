package pluginhost

import (
	"fmt"
	"sort"
	"sync"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Catalog is a table of backends by kind and name, as Nomad's plugin
// catalog is: package builtin holds the one table of the implementations
// linked into the rideshare binary.
type Catalog struct {
	Runtimes  map[string]runtime.Factory
	Storages  map[string]storage.Opener
	Elections map[string]election.Factory
	// Options are the backends' option checks, by kind and name: each is
	// the check the backend makes itself when it opens, so that a
	// deployment's options can be checked as soon as it is loaded (as
	// Nomad's catalog registers a config schema with each plugin).
	Options map[string]map[string]OptionsCheck
}

// OptionsCheck refuses options a backend does not accept, naming the key.
type OptionsCheck func(map[string]string) error

// Names lists the catalog's names of kind, sorted.
func (c Catalog) Names(kind string) []string {
	var names []string
	switch kind {
	case KindRuntime:
		names = keys(c.Runtimes)
	case KindStorage:
		names = keys(c.Storages)
	case KindElection:
		names = keys(c.Elections)
	}
	sort.Strings(names)
	return names
}

// Has says whether kind/name is in the catalog.
func (c Catalog) Has(kind, name string) bool {
	switch kind {
	case KindRuntime:
		return c.Runtimes[name] != nil
	case KindStorage:
		return c.Storages[name] != nil
	case KindElection:
		return c.Elections[name] != nil
	}
	return false
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// builtins are the implementations this binary can serve with "rideshare
// plugin <kind> <name>" and that a host uses when no executable of that name
// is in its plugin dir. Filled at start-up (UseBuiltins) and read-only after.
var (
	builtinsMu sync.RWMutex
	builtins   = Catalog{Runtimes: map[string]runtime.Factory{}, Storages: map[string]storage.Opener{}, Elections: map[string]election.Factory{}}
)

// UseBuiltins adds the catalog c to the built-ins. Like database/sql.Register
// it panics on a programming error: a nil factory, a bad name, or a name of
// a kind added twice.
func UseBuiltins(c Catalog) {
	builtinsMu.Lock()
	defer builtinsMu.Unlock()
	add(KindRuntime, c.Runtimes, builtins.Runtimes)
	add(KindStorage, c.Storages, builtins.Storages)
	add(KindElection, c.Elections, builtins.Elections)
}

func add[F any](kind string, from, to map[string]F) {
	for name, f := range from {
		if err := checkName(name); err != nil {
			panic(fmt.Sprintf("pluginhost.UseBuiltins: %s plugin: %v", kind, err))
		}
		if any(f) == nil {
			panic(fmt.Sprintf("pluginhost.UseBuiltins: %s plugin %q has no factory", kind, name))
		}
		if _, dup := to[name]; dup {
			panic(fmt.Sprintf("pluginhost.UseBuiltins: %s plugin %q added twice", kind, name))
		}
		to[name] = f
	}
}

// HasBuiltin says whether kind/name is built in.
func HasBuiltin(kind, name string) bool {
	builtinsMu.RLock()
	defer builtinsMu.RUnlock()
	return builtins.Has(kind, name)
}

// Builtins lists the built-in names of kind, sorted.
func Builtins(kind string) []string {
	builtinsMu.RLock()
	defer builtinsMu.RUnlock()
	return builtins.Names(kind)
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
