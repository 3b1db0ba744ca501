// Package config reads a deployment described in HCL: broker, ZooKeeper,
// plugin choices, listen addresses, scaling policy, services and load-balancer
// routes. Input variables work as in Nomad and Terraform (see load.go).
package config

import (
	"fmt"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
)

// Config is one deployment.
type Config struct {
	AMQPURL   string `hcl:"amqp_url"`
	DataDir   string `hcl:"data_dir,optional"`
	PluginDir string `hcl:"plugin_dir,optional"`
	Stack     string `hcl:"stack,optional"`
	// BuiltinPlugins says how the built-in backends run: BuiltinsInProcess
	// (the default: linked into the orchestrator and the workers, as Nomad
	// runs its internal drivers) or BuiltinsSubprocess (go-plugin
	// subprocesses, as a plugin from plugin_dir always runs).
	BuiltinPlugins string `hcl:"builtin_plugins,optional"`

	ZooKeeper    ZooKeeper    `hcl:"zookeeper,block"`
	Runtime      Plugin       `hcl:"runtime,block"`
	Storage      Plugin       `hcl:"storage,block"`
	Election     Plugin       `hcl:"election,block"`
	Orchestrator Orchestrator `hcl:"orchestrator,block"`
	Worker       *Worker      `hcl:"worker,block"`
	Snapshot     *Snapshot    `hcl:"snapshot,block"`
	SyncLog      *SyncLog     `hcl:"sync_log,block"`
	Scaling      *Scaling     `hcl:"scaling,block"`
	Services     []Service    `hcl:"service,block"`
	Gateway      *Gateway     `hcl:"gateway,block"`

	// File is where the configuration was read from.
	File string
}

// ZooKeeper is the election backend's ensemble.
type ZooKeeper struct {
	Servers        []string `hcl:"servers"`
	Root           string   `hcl:"root"`
	SessionTimeout string   `hcl:"session_timeout,optional"`
}

// Plugin chooses a backend by name; Options are its own settings.
type Plugin struct {
	Name    string            `hcl:"name,label"`
	Options map[string]string `hcl:"config,optional"`
}

// Orchestrator is the DB API and admin API server.
type Orchestrator struct {
	Listen     string `hcl:"listen"`
	RPCTimeout string `hcl:"rpc_timeout,optional"`
	// Slaves is how many slaves to run before any read has been counted.
	Slaves int `hcl:"slaves,optional"`
}

// Values of builtin_plugins.
const (
	BuiltinsInProcess  = "in_process"
	BuiltinsSubprocess = "subprocess"
)

// BuiltinsInProcess reports whether the built-in backends run in-process.
func (c *Config) BuiltinsInProcess() bool { return c.BuiltinPlugins != BuiltinsSubprocess }

// Worker holds settings passed to every worker; zero values take the
// worker's defaults (worker.DefaultPrefetch, worker.DefaultBatchSize).
type Worker struct {
	MinSeqWait string `hcl:"min_seq_wait,optional"`
	// Prefetch bounds the reads one slave holds at once (round-robin grain).
	Prefetch int `hcl:"prefetch,optional"`
	// BatchSize bounds a master's group commit and a follower's apply batch.
	BatchSize int `hcl:"batch_size,optional"`
}

// Snapshot is the snapshot policy: the oldest ready slave takes one when
// Entries seqs have been applied since the newest, or Interval has passed
// with anything written, or a quarter of sync_log.max_bytes has been written
// to the log. Zero values take worker.DefaultSnapshotEntries and
// worker.DefaultSnapshotInterval.
type Snapshot struct {
	Interval string `hcl:"interval,optional"`
	Entries  int    `hcl:"entries,optional"`
}

// SyncLog is the replication log's retention (see broker.LogRetention):
// sizes like "512MiB", "64MB" or a number of bytes; max_bytes "unbounded"
// keeps every entry; max_age a duration ("" or "0s": none).
type SyncLog struct {
	MaxBytes     string `hcl:"max_bytes,optional"`
	SegmentBytes string `hcl:"segment_bytes,optional"`
	MaxAge       string `hcl:"max_age,optional"`

	// Parsed by Load.
	retention broker.LogRetention
}

// Scaling is the slave autoscaling policy: every Interval, slaves =
// clamp(ceil(reads/ReadsPerSlave), MinSlaves, MaxSlaves).
type Scaling struct {
	Interval      string `hcl:"interval"`
	ReadsPerSlave int    `hcl:"reads_per_slave,optional"`
	MinSlaves     int    `hcl:"min_slaves,optional"`
	MaxSlaves     int    `hcl:"max_slaves,optional"`
}

// Service is the users or rides HTTP service.
type Service struct {
	Name      string `hcl:"name,label"`
	Listen    string `hcl:"listen"`
	UsersURL  string `hcl:"users_url,optional"`
	AreaMin   int    `hcl:"area_min,optional"`
	AreaMax   int    `hcl:"area_max,optional"`
	AreaNames string `hcl:"area_names,optional"`
}

// Gateway is the local stand-in for the application load balancer.
type Gateway struct {
	Listen string  `hcl:"listen"`
	Routes []Route `hcl:"route,block"`
}

// Route forwards requests whose path starts with Path to Target.
type Route struct {
	Path   string `hcl:"path"`
	Target string `hcl:"target"`
}

// Service returns the named service block.
func (c *Config) Service(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Durations, parsed once by Load; zero values are replaced by defaults.
func (c *Config) SessionTimeout() time.Duration {
	return dur(c.ZooKeeper.SessionTimeout, 2*time.Second)
}
func (c *Config) RPCTimeout() time.Duration    { return dur(c.Orchestrator.RPCTimeout, 10*time.Second) }
func (c *Config) ScaleInterval() time.Duration { return dur(c.Scaling.Interval, 2*time.Minute) }
func (c *Config) MinSeqWait() time.Duration    { return dur(c.Worker.MinSeqWait, 3*time.Second) }
func (c *Config) SnapshotInterval() time.Duration {
	return dur(c.Snapshot.Interval, 0) // 0: the worker's default
}

// LogRetention is syncQ's retention as parsed by Load.
func (c *Config) LogRetention() broker.LogRetention { return c.SyncLog.retention }

func dur(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return def // Load has already rejected unparsable durations
	}
	return d
}

// check fills defaults and rejects values the HCL types cannot.
func (c *Config) check() error {
	if c.Worker == nil {
		c.Worker = &Worker{}
	}
	if c.Scaling == nil {
		c.Scaling = &Scaling{}
	}
	if c.Snapshot == nil {
		c.Snapshot = &Snapshot{}
	}
	if c.SyncLog == nil {
		c.SyncLog = &SyncLog{}
	}
	if c.Snapshot.Entries < 0 {
		return fmt.Errorf("snapshot: entries (%d) must not be negative", c.Snapshot.Entries)
	}
	if err := c.SyncLog.parse(); err != nil {
		return err
	}
	if c.Scaling.ReadsPerSlave <= 0 {
		c.Scaling.ReadsPerSlave = 20
	}
	if c.Scaling.MinSlaves <= 0 {
		c.Scaling.MinSlaves = 1
	}
	if c.Scaling.MaxSlaves <= 0 {
		c.Scaling.MaxSlaves = 8
	}
	if c.Scaling.MaxSlaves < c.Scaling.MinSlaves {
		return fmt.Errorf("scaling: max_slaves (%d) is less than min_slaves (%d)", c.Scaling.MaxSlaves, c.Scaling.MinSlaves)
	}
	if c.Orchestrator.Slaves <= 0 {
		c.Orchestrator.Slaves = c.Scaling.MinSlaves
	}
	switch c.BuiltinPlugins {
	case "":
		c.BuiltinPlugins = BuiltinsInProcess
	case BuiltinsInProcess, BuiltinsSubprocess:
	default:
		return fmt.Errorf("builtin_plugins: %q is not %q or %q", c.BuiltinPlugins, BuiltinsInProcess, BuiltinsSubprocess)
	}
	if c.Worker.Prefetch < 0 || c.Worker.BatchSize < 0 {
		return fmt.Errorf("worker: prefetch (%d) and batch_size (%d) must not be negative", c.Worker.Prefetch, c.Worker.BatchSize)
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Stack == "" {
		c.Stack = "local"
	}
	for field, s := range map[string]string{
		"zookeeper.session_timeout": c.ZooKeeper.SessionTimeout,
		"orchestrator.rpc_timeout":  c.Orchestrator.RPCTimeout,
		"scaling.interval":          c.Scaling.Interval,
		"worker.min_seq_wait":       c.Worker.MinSeqWait,
		"snapshot.interval":         c.Snapshot.Interval,
	} {
		if s == "" {
			continue
		}
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			return fmt.Errorf("%s: %q is not a positive duration (like \"2s\" or \"2m\")", field, s)
		}
	}
	return nil
}
