package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
)

// ErrNotFound is returned (wrapped) when a plugin is neither in the plugin
// dir nor built in.
var ErrNotFound = errors.New("plugin not found")

// ErrClosed is returned (wrapped) by calls on a plugin client after Close.
var ErrClosed = errors.New("plugin client closed")

// LoadOptions says where plugins come from and how they are run.
type LoadOptions struct {
	// PluginDir holds external plugins named rideshare-<kind>-<name>. Empty:
	// only built-ins are used.
	PluginDir string
	// Binary serves the built-ins as "<Binary> plugin <kind> <name>".
	// Empty: os.Executable().
	Binary string
	// Logger receives the host's plugin messages and the plugins' own logs.
	// Nil: hclog.L().
	Logger hclog.Logger
	// StartTimeout bounds starting a plugin process and its handshake.
	// Zero: 30s.
	StartTimeout time.Duration
	// OnRestart, when set, is called (in its own goroutine) after a plugin
	// process died and a new one was started and configured.
	OnRestart func(kind, name string)
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Logger == nil {
		o.Logger = hclog.L()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	return o
}

// ExecutableName is the file name of an external plugin of kind/name.
func ExecutableName(kind, name string) string { return "rideshare-" + kind + "-" + name }

// InPluginDir reports whether dir holds an executable for kind/name, which
// then wins over a built-in of that name.
func InPluginDir(dir, kind, name string) bool {
	if dir == "" || checkName(name) != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, ExecutableName(kind, name)))
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// command says how to run one plugin.
type command struct {
	path string
	args []string
	// source is "plugin_dir" or "built-in"
	source string
}

func (c command) String() string {
	if len(c.args) == 0 {
		return c.path
	}
	return fmt.Sprintf("%s %v", c.path, c.args)
}

// resolve finds kind/name as Nomad does: an executable in the plugin dir
// wins; else a built-in served by the rideshare binary; else ErrNotFound
// naming every place it looked.
func resolve(kind, name string, opts LoadOptions) (command, error) {
	if err := checkKind(kind); err != nil {
		return command{}, err
	}
	if err := checkName(name); err != nil {
		return command{}, fmt.Errorf("%s plugin: %w", kind, err)
	}
	looked := "no plugin_dir set"
	if opts.PluginDir != "" {
		p := filepath.Join(opts.PluginDir, ExecutableName(kind, name))
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0:
			abs, aerr := filepath.Abs(p)
			if aerr == nil {
				p = abs
			}
			return command{path: p, source: "plugin_dir"}, nil
		case err == nil:
			return command{}, fmt.Errorf("%s plugin %q: %s exists but is not an executable file", kind, name, p)
		case !errors.Is(err, os.ErrNotExist):
			return command{}, fmt.Errorf("%s plugin %q: %w", kind, name, err)
		}
		looked = "no executable " + p
	}
	if HasBuiltin(kind, name) {
		bin := opts.Binary
		if bin == "" {
			exe, err := os.Executable()
			if err != nil {
				return command{}, fmt.Errorf("%s plugin %q is built in, but the rideshare binary is unknown: %w", kind, name, err)
			}
			bin = exe
		}
		return command{path: bin, args: []string{"plugin", kind, name}, source: "built-in"}, nil
	}
	return command{}, fmt.Errorf("%s plugin %q: %w: %s and no built-in of that name (built-in %s plugins: %v)",
		kind, name, ErrNotFound, looked, kind, Builtins(kind))
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

var cleanupOnce sync.Once

// Cleanup kills every plugin process this host started (go-plugin's
// CleanupClients). Call it once, deferred in main, so no plugin outlives the
// host even when a client was never closed. Plugins also exit on their own
// when the host dies (they watch their parent).
func Cleanup() { cleanupOnce.Do(plugin.CleanupClients) }
