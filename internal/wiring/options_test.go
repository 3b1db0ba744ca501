package wiring

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/plugins/builtin"
	"github.com/rideshare/dbaas/plugins/pluginhost"
)

// Every built-in backend has its option check in the catalog, under its
// built-in name.
func TestEveryBuiltinChecksOptions(t *testing.T) {
	for kind, names := range map[string][]string{
		pluginhost.KindRuntime:  builtin.Catalog.Names(pluginhost.KindRuntime),
		pluginhost.KindStorage:  builtin.Catalog.Names(pluginhost.KindStorage),
		pluginhost.KindElection: builtin.Catalog.Names(pluginhost.KindElection),
	} {
		for _, name := range names {
			if builtin.Catalog.Options[kind][name] == nil {
				t.Errorf("built-in %s %q has no option check in builtin.Catalog.Options", kind, name)
			}
		}
		if len(builtin.Catalog.Options[kind]) != len(names) {
			t.Errorf("builtin.Catalog.Options[%s] has %d checks for %d built-ins %v", kind, len(builtin.Catalog.Options[kind]), len(names), names)
		}
	}
}

// The shipped files pass; an unknown key in a built-in's config is refused
// at load, naming the block's position, the plugin, the key and the accepted
// keys; a backend from plugin_dir is left to check its own.
func TestCheckOptions(t *testing.T) {
	for _, file := range []string{"hcl/local.hcl", "hcl/docker.hcl"} {
		cfg, err := config.Load(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckOptions(cfg); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}

	dir := t.TempDir()
	pluginDir := filepath.Join(dir, "plugins")
	path := filepath.Join(dir, "deploy.hcl")
	src := `amqp_url   = "amqp://x"
plugin_dir = "` + pluginDir + `"
zookeeper {
  servers = ["z:1"]
  root    = "/r"
}
runtime "process" {}
storage "sqlite" {
  config = { path = "/tmp/x.db" }
}
election "zookeeper" {
  config = { connect_timeout = "5s" }
}
orchestrator {
  listen = "127.0.0.1:1"
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := path + `:8:1: storage "sqlite": unknown option "path" (accepted: none)`
	if err := CheckOptions(cfg); err == nil || err.Error() != want {
		t.Fatalf("CheckOptions = %v, want %s", err, want)
	}

	cfg.Storage.Options = nil
	cfg.Runtime.Options = map[string]string{"image": "x"}
	want = path + `:7:1: runtime "process": unknown option "image" (accepted: data_dir, stack)`
	if err := CheckOptions(cfg); err == nil || err.Error() != want {
		t.Fatalf("CheckOptions = %v, want %s", err, want)
	}

	// An executable rideshare-runtime-process in plugin_dir replaces the
	// built-in: its options are its own business.
	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pluginDir, pluginhost.ExecutableName(pluginhost.KindRuntime, "process")), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckOptions(cfg); err != nil {
		t.Fatalf("CheckOptions with the runtime from plugin_dir: %v", err)
	}

	cfg.Election.Options = map[string]string{"connect_timeout": "never"}
	if err := CheckOptions(cfg); err == nil || !strings.Contains(err.Error(), `election "zookeeper": option connect_timeout="never"`) {
		t.Fatalf("CheckOptions with a bad connect_timeout = %v", err)
	}
}
