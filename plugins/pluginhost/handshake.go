package pluginhost

import (
	"fmt"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Plugin kinds: the first word of "rideshare plugin <kind> <name>" and the
// middle of "rideshare-<kind>-<name>".
const (
	KindRuntime  = "runtime"
	KindStorage  = "storage"
	KindElection = "election"
)

// Kinds lists every plugin kind.
var Kinds = []string{KindRuntime, KindStorage, KindElection}

// Handshake is shared by the host and every plugin. ProtocolVersion changes
// when the messages of any kind (plugins/<kind>/proto/<kind>.proto) change incompatibly; the magic cookie
// only stops a plugin binary from being run by hand by mistake.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  4, // 2: storage Apply takes a batch; 3: storage Export/Import, the election snapshot catalog; 4: protobuf messages (plugins/<kind>/proto) instead of JSON
	MagicCookieKey:   "RIDESHARE_PLUGIN",
	MagicCookieValue: "2f8c1d0e-rideshare-dbaas-plugin-v1",
}

// EnvLogLevel tells a plugin process the host's log level; plugin logs are
// JSON on stderr, which go-plugin relays into the host's logger.
const EnvLogLevel = "RIDESHARE_PLUGIN_LOG_LEVEL"

// PluginMap is the host side's plugin set: one entry per kind, with no
// implementation (only GRPCClient is used).
func PluginMap() plugin.PluginSet {
	return plugin.PluginSet{
		KindRuntime:  &runtime.Plugin{},
		KindStorage:  &storage.Plugin{},
		KindElection: &election.Plugin{},
	}
}

func checkKind(kind string) error {
	for _, k := range Kinds {
		if k == kind {
			return nil
		}
	}
	return fmt.Errorf("unknown plugin kind %q (want runtime, storage or election)", kind)
}
