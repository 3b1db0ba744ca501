package wiring

import (
	"fmt"

	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/plugins/builtin"
	"github.com/rideshare/dbaas/plugins/pluginhost"
)

// CheckOptions checks the options of every runtime, storage and election
// block that picks a built-in backend, as soon as the deployment is loaded,
// with the check that backend makes when it opens (builtin.Catalog.Options):
// an unknown key (or a bad value) is an error naming the block's position,
// the plugin, the key and the accepted keys. A backend from plugin_dir
// (which may also shadow a built-in name) checks its own options when it
// starts.
func CheckOptions(cfg *config.Config) error {
	pluginDir := AbsDir(cfg.PluginDir)
	for _, b := range []struct {
		kind   string
		plugin config.Plugin
		opts   map[string]string
	}{
		{pluginhost.KindRuntime, cfg.Runtime, RuntimeConfig(cfg, "").Options},
		{pluginhost.KindStorage, cfg.Storage, cfg.Storage.Options},
		{pluginhost.KindElection, cfg.Election, cfg.Election.Options},
	} {
		check, ok := builtin.Catalog.Options[b.kind][b.plugin.Name]
		if !ok || pluginhost.InPluginDir(pluginDir, b.kind, b.plugin.Name) {
			continue
		}
		if err := check(b.opts); err != nil {
			where := b.plugin.Pos()
			if where == "" {
				where = cfg.File
			}
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}
