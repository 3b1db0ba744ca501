package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/orchestrator"
	"github.com/rideshare/dbaas/plugins/election/zookeeper"
	"github.com/rideshare/dbaas/worker"
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
	if cfg.Scaling.Interval != 2*time.Minute {
		t.Fatalf("scale interval = %v, want 2m", cfg.Scaling.Interval)
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
	if cfg.Scaling.Interval != 5*time.Second || cfg.ZooKeeper.Root != "/x" || cfg.DataDir != "/tmp/d" || cfg.PluginDir != "/tmp/d/plugins" {
		t.Fatalf("overrides not applied: %v %s %s %s", cfg.Scaling.Interval, cfg.ZooKeeper.Root, cfg.DataDir, cfg.PluginDir)
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
	if err == nil || !strings.Contains(err.Error(), "scaling.interval") || !strings.Contains(err.Error(), "hcl/local.hcl:") {
		t.Fatalf("err = %v, want it to name scaling.interval and the file", err)
	}
}

// writeConfig writes src after the minimal required blocks to a file.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deploy.hcl")
	base := `amqp_url = "amqp://x"
zookeeper {
  servers = ["z:1"]
  root    = "/r"
}
runtime "process" {}
storage "sqlite" {}
election "zookeeper" {}
orchestrator {
  listen = "127.0.0.1:1"
}
`
	if err := os.WriteFile(path, []byte(base+src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A file that sets nothing optional gets every default, each the constant of
// the package that owns the behaviour, parsed once into typed values.
func TestDefaults(t *testing.T) {
	cfg, err := Load(writeConfig(t, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		AMQPURL: "amqp://x", QueueType: broker.DefaultQueueType, DataDir: DefaultDataDir, Stack: DefaultStack, BuiltinPlugins: BuiltinsInProcess,
		ZooKeeper:    ZooKeeper{Servers: []string{"z:1"}, Root: "/r", SessionTimeout: zookeeper.DefaultSessionTimeout},
		Orchestrator: Orchestrator{ID: orchestrator.DefaultID, Listen: "127.0.0.1:1", RPCTimeout: orchestrator.DefaultRPCTimeout, SessionTimeout: zookeeper.DefaultSessionTimeout, Slaves: orchestrator.DefaultMinSlaves},
		Worker:       Worker{MinSeqWait: worker.DefaultMinSeqWait, Prefetch: worker.DefaultPrefetch, BatchSize: worker.DefaultBatchSize},
		Snapshot:     Snapshot{Interval: worker.DefaultSnapshotInterval, Entries: worker.DefaultSnapshotEntries},
		Scaling: Scaling{Interval: orchestrator.DefaultScaleInterval, ReadsPerSlave: orchestrator.DefaultReadsPerSlave,
			MinSlaves: orchestrator.DefaultMinSlaves, MaxSlaves: orchestrator.DefaultMaxSlaves},
	}
	got := *cfg
	got.Runtime, got.Storage, got.Election, got.File = Plugin{}, Plugin{}, Plugin{}, ""
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if cfg.Storage.Name != "sqlite" || !strings.HasSuffix(cfg.Storage.Pos(), "deploy.hcl:7:1") {
		t.Fatalf("storage block %q at %q, want sqlite at deploy.hcl:7:1", cfg.Storage.Name, cfg.Storage.Pos())
	}
}

// Every value is typed at Load: durations, sizes and counts.
func TestTypedValues(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
worker {
  min_seq_wait = "300ms"
  prefetch     = 4
  batch_size   = 64
}
snapshot {
  interval = "1h"
  entries  = 10
}
sync_log {
  max_bytes     = "64MiB"
  segment_bytes = "8MB"
  max_age       = "24h"
}
scaling {
  interval        = "10s"
  reads_per_slave = 5
  min_slaves      = 2
  max_slaves      = 3
}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Worker; w != (Worker{MinSeqWait: 300 * time.Millisecond, Prefetch: 4, BatchSize: 64}) {
		t.Errorf("worker = %+v", w)
	}
	if s := cfg.Snapshot; s != (Snapshot{Interval: time.Hour, Entries: 10}) {
		t.Errorf("snapshot = %+v", s)
	}
	if l := cfg.SyncLog; l.MaxBytes != 64<<20 || l.SegmentBytes != 8e6 || l.MaxAge != 24*time.Hour {
		t.Errorf("sync_log = %+v", l)
	}
	if s := cfg.Scaling; s != (Scaling{Interval: 10 * time.Second, ReadsPerSlave: 5, MinSlaves: 2, MaxSlaves: 3}) {
		t.Errorf("scaling = %+v", s)
	}
	if cfg.Orchestrator.Slaves != 2 {
		t.Errorf("orchestrator.slaves = %d, want min_slaves (2)", cfg.Orchestrator.Slaves)
	}
}

// A bad value is an error naming the file, the line and column of the
// attribute, and the attribute.
func TestBadValues(t *testing.T) {
	for src, want := range map[string]string{
		"worker {\n  min_seq_wait = \"0s\"\n}\n":                                  `:13:3: worker.min_seq_wait: "0s" is not a positive duration`,
		"worker {\n  prefetch = -1\n}\n":                                          `:13:3: worker.prefetch: -1 must not be negative`,
		"snapshot {\n  entries = -5\n}\n":                                         `:13:3: snapshot.entries: -5 must not be negative`,
		"scaling {\n  interval = \"2m\"\n  reads_per_slave = -1\n}\n":             `:14:3: scaling.reads_per_slave: -1 must not be negative`,
		"scaling {\n  interval = \"2m\"\n  min_slaves = 3\n  max_slaves = 2\n}\n": `:15:3: scaling: max_slaves (2) is less than min_slaves (3)`,
		"sync_log {\n  max_bytes = \"lots\"\n}\n":                                 `:13:3: sync_log.max_bytes: "lots" is not a positive size`,
		"sync_log {\n  max_bytes = \"4MiB\"\n  segment_bytes = \"3MiB\"\n}\n":     `:14:3: sync_log: segment_bytes (3145728) must be at most half of max_bytes (4194304)`,
		"sync_log {\n  max_age = \"-1h\"\n}\n":                                    `:13:3: sync_log.max_age: "-1h" is not a duration`,
		"builtin_plugins = \"both\"\n":                                            `:12:1: builtin_plugins: "both" is not "in_process" or "subprocess"`,
		"amqp_queue_type = \"stream\"\n":                                          `:12:1: amqp_queue_type: queue type "stream" is not "classic" or "quorum"`,
	} {
		path := writeConfig(t, src)
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), path+want) {
			t.Errorf("%q: err = %v, want %s", src, err, path+want)
		}
	}
	// amqp_url is in the base file: a list with a bad member names it.
	path := writeConfig(t, "")
	src := strings.Replace(string(mustRead(t, path)), `amqp_url = "amqp://x"`, `amqp_url = "amqp://x/, ftp://y/"`, 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), path+":1:1: amqp_url: broker URL 2 (") {
		t.Errorf("bad second broker URL: err = %v", err)
	}
	// The zookeeper and orchestrator blocks are in the base file.
	for _, tc := range []struct{ after, attr, want string }{
		{`root    = "/r"`, "session_timeout", `:5:3: zookeeper.session_timeout: "soon" is not a positive duration`},
		{`listen = "127.0.0.1:1"`, "rpc_timeout", `:11:3: orchestrator.rpc_timeout: "soon" is not a positive duration`},
		{`listen = "127.0.0.1:1"`, "session_timeout", `:11:3: orchestrator.session_timeout: "soon" is not a positive duration`},
		{`listen = "127.0.0.1:1"`, "id", `:11:3: orchestrator.id: orchestrator id "soon bad": ' ' is not a letter`},
	} {
		path := writeConfig(t, "")
		value := "soon"
		if tc.attr == "id" {
			value = "soon bad"
		}
		src := strings.Replace(string(mustRead(t, path)), tc.after, tc.after+"\n  "+tc.attr+` = "`+value+`"`, 1)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%s: err = %v, want %s", tc.attr, err, path+tc.want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
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

// TestOrchestratorID: the id defaults to orchestrator.DefaultID and is read
// when set.
func TestOrchestratorID(t *testing.T) {
	path := writeConfig(t, "")
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Orchestrator.ID != orchestrator.DefaultID {
		t.Fatalf("default id = %q, want %q", cfg.Orchestrator.ID, orchestrator.DefaultID)
	}
	src := strings.Replace(string(mustRead(t, path)), `listen = "127.0.0.1:1"`, `listen = "127.0.0.1:1"`+"\n  id = \"orch-b\"", 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(path, nil); err != nil || cfg.Orchestrator.ID != "orch-b" {
		t.Fatalf("id = %q, %v; want orch-b", cfg.Orchestrator.ID, err)
	}
}

// The clustered compose file's configuration loads: every broker node in amqp_url, quorum
// queues, the ensemble, and the orchestrator id from its variable.
func TestShippedClusterConfig(t *testing.T) {
	cfg, err := Load("hcl/cluster.hcl", []string{"orchestrator_id=orchestrator2", "project=p1"})
	if err != nil {
		t.Fatalf("load embedded cluster.hcl: %v", err)
	}
	if cfg.Orchestrator.ID != "orchestrator2" || cfg.Stack != "p1" {
		t.Fatalf("orchestrator id %q, stack %q; want orchestrator2, p1", cfg.Orchestrator.ID, cfg.Stack)
	}
	if strings.Count(cfg.AMQPURL, "amqp://") != 3 || cfg.QueueType != "quorum" {
		t.Fatalf("amqp_url %q, queue type %q; want the three nodes, quorum", cfg.AMQPURL, cfg.QueueType)
	}
	if len(cfg.ZooKeeper.Servers) != 3 || cfg.Runtime.Options["network"] != "p1_net" {
		t.Fatalf("zookeeper servers %v, runtime %v", cfg.ZooKeeper.Servers, cfg.Runtime.Options)
	}
	// The workers' sessions outlast an ensemble election; the
	// orchestrators' are shorter, so a dead supervisor is succeeded sooner.
	if cfg.ZooKeeper.SessionTimeout != 4*time.Second || cfg.Orchestrator.SessionTimeout != 2*time.Second {
		t.Fatalf("session timeouts: workers %v, orchestrators %v; want 4s, 2s", cfg.ZooKeeper.SessionTimeout, cfg.Orchestrator.SessionTimeout)
	}
}

// The orchestrator's session timeout follows the workers' unless set.
func TestOrchestratorSessionTimeout(t *testing.T) {
	path := writeConfig(t, "")
	src := strings.Replace(string(mustRead(t, path)), `root    = "/r"`, `root    = "/r"`+"\n  session_timeout = \"5s\"", 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Orchestrator.SessionTimeout != 5*time.Second {
		t.Fatalf("orchestrator.session_timeout = %v, want zookeeper's 5s", cfg.Orchestrator.SessionTimeout)
	}
	src = strings.Replace(src, `listen = "127.0.0.1:1"`, `listen = "127.0.0.1:1"`+"\n  session_timeout = \"1500ms\"", 1)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(path, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Orchestrator.SessionTimeout != 1500*time.Millisecond || cfg.ZooKeeper.SessionTimeout != 5*time.Second {
		t.Fatalf("session timeouts: orchestrator %v, zookeeper %v; want 1.5s, 5s", cfg.Orchestrator.SessionTimeout, cfg.ZooKeeper.SessionTimeout)
	}
}
