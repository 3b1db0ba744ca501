// Package config reads a deployment described in HCL: broker, ZooKeeper,
// plugin choices, listen addresses, scaling policy, services and load-balancer
// routes. Input variables work as in Nomad and Terraform (see load.go).
//
// Load decodes and checks the whole file once (schema.go): durations and
// sizes are parsed, defaults filled in, and a bad value is an error naming
// the file, the line and the attribute. A Config holds typed values only;
// nothing parses a string after Load. Each default is a constant of the
// package whose behaviour it sets (orchestrator.DefaultReadsPerSlave,
// worker.DefaultPrefetch, …); the few that belong to the deployment itself
// are here (DefaultDataDir, DefaultStack).
package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/rideshare/dbaas/internal/broker"
)

// Defaults of the deployment's own attributes.
const (
	// DefaultDataDir is data_dir when the file sets none.
	DefaultDataDir = "./data"
	// DefaultStack is stack when the file sets none.
	DefaultStack = "local"
)

// Config is one deployment, as Load decoded, checked and defaulted it.
type Config struct {
	// AMQPURL is the broker: one URL, or a cluster's nodes' URLs separated
	// by commas (broker.SplitURLs), tried in turn.
	AMQPURL string
	// QueueType is the type of the request queues (amqp_queue_type,
	// default broker.DefaultQueueType): "quorum" on a RabbitMQ cluster.
	QueueType broker.QueueType
	DataDir   string
	PluginDir string
	Stack     string
	// BuiltinPlugins says how the built-in backends run: BuiltinsInProcess
	// (the default: linked into the orchestrator and the workers, as Nomad
	// runs its internal drivers) or BuiltinsSubprocess (go-plugin
	// subprocesses, as a plugin from plugin_dir always runs).
	BuiltinPlugins string

	ZooKeeper    ZooKeeper
	Runtime      Plugin
	Storage      Plugin
	Election     Plugin
	Orchestrator Orchestrator
	Worker       Worker
	Snapshot     Snapshot
	// SyncLog is the replication log's retention (the sync_log block);
	// zero fields take the broker's defaults (broker.DefaultLogMaxBytes,
	// broker.DefaultLogSegmentBytes).
	SyncLog  broker.LogRetention
	Scaling  Scaling
	Services []Service
	Gateway  *Gateway // nil: no gateway block

	// File is where the configuration was read from.
	File string
}

// ZooKeeper is the election backend's ensemble.
type ZooKeeper struct {
	Servers []string
	Root    string
	// SessionTimeout defaults to zookeeper.DefaultSessionTimeout.
	SessionTimeout time.Duration
}

// Plugin chooses a backend by name; Options are its own settings (the
// block's `config = { … }`), checked by the backend (see package plugins).
type Plugin struct {
	Name    string            `hcl:"name,label"`
	Options map[string]string `hcl:"config,optional"`
	// DefRange is where the block is, for messages (see Pos).
	DefRange hcl.Range `hcl:",def_range"`
}

// Pos is where the plugin's block starts, "file:line:column".
func (p Plugin) Pos() string { return pos(p.DefRange) }

// Orchestrator is the DB API and admin API server.
type Orchestrator struct {
	// ID names this orchestrator among those sharing a stack (default
	// orchestrator.DefaultID): its reply queue and its place in the
	// supervision lock. Two orchestrators on one vhost need two ids.
	ID     string
	Listen string
	// RPCTimeout defaults to orchestrator.DefaultRPCTimeout.
	RPCTimeout time.Duration
	// SessionTimeout is the orchestrator's own election session's (default
	// ZooKeeper.SessionTimeout). Losing it only hands supervision to another
	// orchestrator, so it may be shorter than the workers': a dead
	// supervisor is then succeeded sooner.
	SessionTimeout time.Duration
	// Slaves is how many slaves to run before any read has been counted
	// (default Scaling.MinSlaves).
	Slaves int
	// AdminToken, when set, is the bearer token the admin API requires
	// (crash, switchover, worker list, workers, events, status); DBToken
	// the one the DB API (/api/v1/db/*) requires, which the users and rides
	// services send. "" leaves that API open. Secrets: never log them.
	AdminToken string
	DBToken    string
}

// Values of builtin_plugins.
const (
	BuiltinsInProcess  = "in_process"
	BuiltinsSubprocess = "subprocess"
)

// BuiltinsInProcess reports whether the built-in backends run in-process.
func (c *Config) BuiltinsInProcess() bool { return c.BuiltinPlugins != BuiltinsSubprocess }

// Worker holds settings passed to every worker (defaults
// worker.DefaultMinSeqWait, worker.DefaultPrefetch, worker.DefaultBatchSize).
type Worker struct {
	// MinSeqWait bounds how long a read waits for its min_seq (then 503).
	MinSeqWait time.Duration
	// Prefetch bounds the reads one slave holds at once (round-robin grain).
	Prefetch int
	// BatchSize bounds a master's group commit and a follower's apply batch.
	BatchSize int
}

// Snapshot is the snapshot policy: the oldest ready slave takes one when
// Entries seqs have been applied since the newest, or Interval has passed
// with anything written, or a quarter of sync_log.max_bytes has been written
// to the log (defaults worker.DefaultSnapshotEntries and
// worker.DefaultSnapshotInterval).
type Snapshot struct {
	Interval time.Duration
	Entries  uint64
}

// Scaling is the slave autoscaling policy: every Interval, slaves =
// clamp(ceil(reads/ReadsPerSlave), MinSlaves, MaxSlaves) (defaults
// orchestrator.DefaultScaleInterval, DefaultReadsPerSlave, DefaultMinSlaves,
// DefaultMaxSlaves).
type Scaling struct {
	Interval      time.Duration
	ReadsPerSlave int
	MinSlaves     int
	MaxSlaves     int
}

// Service is the users or rides HTTP service.
type Service struct {
	Name      string `hcl:"name,label"`
	Listen    string `hcl:"listen"`
	UsersURL  string `hcl:"users_url,optional"`
	AreaMin   int    `hcl:"area_min,optional"`
	AreaMax   int    `hcl:"area_max,optional"`
	AreaNames string `hcl:"area_names,optional"`
	// Origin is the Origin header the rides service sends on its check of a
	// user through the load balancer: its public address, which the original
	// test script checks. "" means rides.DefaultOrigin of its listen
	// address. Only the rides service takes it.
	Origin string   `hcl:"origin,optional"`
	Body   hcl.Body `hcl:",body"`
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

// pos renders a source range as "file:line:column" ("" when unknown).
func pos(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// Topology is how every process of the deployment declares the queues.
func (c *Config) Topology() broker.Topology {
	return broker.Topology{Requests: c.QueueType, Log: c.SyncLog}
}
