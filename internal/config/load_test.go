package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShippedLocalConfig(t *testing.T) {
	// The embedded copy is used when the path is not on disk.
	cfg, err := Load("does-not-exist/local.hcl", nil)
	if err != nil {
		t.Fatalf("load embedded local.hcl: %v", err)
	}
	if cfg.Runtime.Name != "process" || cfg.Storage.Name != "sqlite" || cfg.Election.Name != "zookeeper" {
		t.Fatalf("plugins = %s/%s/%s, want process/sqlite/zookeeper", cfg.Runtime.Name, cfg.Storage.Name, cfg.Election.Name)
	}
	if cfg.ScaleInterval() != 2*time.Minute {
		t.Fatalf("scale interval = %v, want 2m", cfg.ScaleInterval())
	}
	if got := cfg.ZooKeeper.Servers; len(got) != 1 || got[0] != "127.0.0.1:2181" {
		t.Fatalf("zk servers = %v", got)
	}
	if cfg.Orchestrator.Listen != "127.0.0.1:8083" || cfg.Gateway.Listen != "127.0.0.1:8080" {
		t.Fatalf("listen addresses: orchestrator %s gateway %s", cfg.Orchestrator.Listen, cfg.Gateway.Listen)
	}
	if rides, ok := cfg.Service("rides"); !ok || rides.AreaMax != 198 {
		t.Fatalf("rides service = %+v, %v", rides, ok)
	}
}

func TestVarOverridesDefault(t *testing.T) {
	cfg, err := Load("hcl/local.hcl", []string{"scale_interval=5s", "zk_root=/x", "data_dir=/tmp/d", `zk_servers=["a:1","b:2"]`})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ScaleInterval() != 5*time.Second || cfg.ZooKeeper.Root != "/x" || cfg.DataDir != "/tmp/d" || cfg.PluginDir != "/tmp/d/plugins" {
		t.Fatalf("overrides not applied: %v %s %s %s", cfg.ScaleInterval(), cfg.ZooKeeper.Root, cfg.DataDir, cfg.PluginDir)
	}
	if len(cfg.ZooKeeper.Servers) != 2 || cfg.ZooKeeper.Servers[1] != "b:2" {
		t.Fatalf("list override: %v", cfg.ZooKeeper.Servers)
	}
}

func TestUndeclaredVar(t *testing.T) {
	_, err := Load("hcl/local.hcl", []string{"nope=1"})
	if err == nil || !strings.Contains(err.Error(), `no variable "nope"`) {
		t.Fatalf("err = %v, want it to name the undeclared variable", err)
	}
}

func TestBadFileNamesLine(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"syntax.hcl":  "amqp_url = \"x\"\nzookeeper {\n  servers = [\n",
		"unknown.hcl": "amqp_url = \"x\"\n\nbogus = 3\n",
		"badvar.hcl":  "variable \"a\" { default = 1 }\namqp_url = var.b\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), path+":") {
			t.Errorf("%s: err = %v, want file:line:column", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	_, err := Load(filepath.Join(dir, "unknown.hcl"), nil)
	if !strings.Contains(err.Error(), "unknown.hcl:3:1") {
		t.Errorf("unknown argument: %v, want unknown.hcl:3:1", err)
	}
}

func TestBadDuration(t *testing.T) {
	_, err := Load("hcl/local.hcl", []string{"scale_interval=soon"})
	if err == nil || !strings.Contains(err.Error(), "scaling.interval") {
		t.Fatalf("err = %v, want it to name scaling.interval", err)
	}
}

func TestShippedDockerConfig(t *testing.T) {
	cfg, err := Load("hcl/docker.hcl", []string{"pg_url=postgres://u:p@h:1/postgres"})
	if err != nil {
		t.Fatalf("load embedded docker.hcl: %v", err)
	}
	if cfg.Runtime.Name != "docker" || cfg.Storage.Name != "postgres" || cfg.Election.Name != "zookeeper" {
		t.Fatalf("plugins = %s/%s/%s, want docker/postgres/zookeeper", cfg.Runtime.Name, cfg.Storage.Name, cfg.Election.Name)
	}
	if cfg.Storage.Options["url"] != "postgres://u:p@h:1/postgres" || cfg.Runtime.Options["image"] != "rideshare:latest" {
		t.Fatalf("options: storage %v runtime %v", cfg.Storage.Options, cfg.Runtime.Options)
	}
}

// A list variable takes -var as people type it: one bare value, values
// separated by commas (spaces and empty items ignored), or an HCL list. A
// broken HCL list or an empty one is an error naming the variable and the
// accepted forms.
func TestListVarForms(t *testing.T) {
	for raw, want := range map[string][]string{
		"10.0.0.5:2181":                      {"10.0.0.5:2181"},
		"10.0.0.5:2181,10.0.0.6:2181":        {"10.0.0.5:2181", "10.0.0.6:2181"},
		" a:1 , b:2 ,":                       {"a:1", "b:2"},
		`["10.0.0.5:2181", "10.0.0.6:2181"]`: {"10.0.0.5:2181", "10.0.0.6:2181"},
	} {
		cfg, err := Load("hcl/local.hcl", []string{"zk_servers=" + raw})
		if err != nil {
			t.Fatalf("-var zk_servers=%s: %v", raw, err)
		}
		if strings.Join(cfg.ZooKeeper.Servers, "|") != strings.Join(want, "|") {
			t.Fatalf("-var zk_servers=%s: servers %q, want %q", raw, cfg.ZooKeeper.Servers, want)
		}
	}
	for _, raw := range []string{`["a:1",`, " , "} {
		_, err := Load("hcl/local.hcl", []string{"zk_servers=" + raw})
		if err == nil || !strings.Contains(err.Error(), "zk_servers") || !strings.Contains(err.Error(), "accepted forms") {
			t.Fatalf("-var zk_servers=%s: err = %v, want one naming the variable and the accepted forms", raw, err)
		}
	}
}
