// Package worker is the one code path every database worker runs. A worker
// owns one Storage, follows the replication log (syncQ) and, as a slave,
// answers reads from readQ; when the election makes it master it fences the
// log with a new epoch, catches up, and applies writes from writeQ.
package worker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
)

// EnvConfig is the environment variable through which the orchestrator hands
// a worker its Config (JSON), so the process and docker runtimes pass it alike.
const EnvConfig = "RIDESHARE_WORKER"

// Defaults of Config.
const (
	DefaultPrefetch   = 16
	DefaultBatchSize  = 512
	DefaultMinSeqWait = 3 * time.Second
	DefaultHeartbeat  = 10 * time.Second
	// DefaultBrokerGrace is how long a master that lost its broker
	// connection keeps the lead while it reconnects: long enough for a
	// RabbitMQ restart, short enough that a master cut off from the broker
	// alone (the others still reach it) hands over soon.
	DefaultBrokerGrace = 5 * time.Second
)

// Config is one worker's settings.
type Config struct {
	ID      string `json:"id"`
	AMQPURL string `json:"amqp_url"`

	Election       election.Config `json:"election"`
	ElectionPlugin string          `json:"election_plugin"`
	Storage        storage.Config  `json:"storage"`
	StoragePlugin  string          `json:"storage_plugin"`
	PluginDir      string          `json:"plugin_dir"`
	// InProcess runs the backends inside the worker instead of as go-plugin
	// subprocesses.
	InProcess bool `json:"in_process"`

	// MinSeqWait bounds how long a read waits for its min_seq (then 503).
	MinSeqWait time.Duration `json:"min_seq_wait"`
	// Prefetch bounds the reads one slave holds at once: the grain of
	// RabbitMQ's round-robin over the slaves.
	Prefetch int `json:"prefetch"`
	// BatchSize bounds how many writes the master commits at once (group
	// commit) and how many log entries a follower applies in one transaction.
	BatchSize int `json:"batch_size"`
	// Heartbeat is the AMQP heartbeat: how long a hung worker keeps the
	// messages it holds before the broker gives them to another.
	Heartbeat time.Duration `json:"heartbeat"`
	// BrokerGrace is how long a master that lost its broker connection
	// keeps its lead (and its epoch) while it dials again; after it, the
	// master gives up the lead and goes on dialling as a slave.
	BrokerGrace time.Duration `json:"broker_grace"`
	// SyncLog is the replication log's retention, declared with syncQ.
	SyncLog broker.LogRetention `json:"sync_log"`
	// QueueType is the type of the request queues, declared with them.
	QueueType broker.QueueType `json:"queue_type,omitempty"`
	// SnapshotEntries and SnapshotInterval are the snapshot policy (see
	// DefaultSnapshotEntries, DefaultSnapshotInterval).
	SnapshotEntries  uint64        `json:"snapshot_entries"`
	SnapshotInterval time.Duration `json:"snapshot_interval"`
	// ReportEvery is how often the worker refreshes its applied seq in its
	// election record.
	ReportEvery time.Duration `json:"report_every"`
}

func (c *Config) defaults() {
	if c.MinSeqWait <= 0 {
		c.MinSeqWait = DefaultMinSeqWait
	}
	if c.Prefetch <= 0 {
		c.Prefetch = DefaultPrefetch
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.BrokerGrace <= 0 {
		c.BrokerGrace = DefaultBrokerGrace
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = DefaultSnapshotEntries
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.ReportEvery <= 0 {
		c.ReportEvery = time.Second
	}
}

// ParseConfig reads a Config from its JSON form.
func ParseConfig(s string) (Config, error) {
	var c Config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("parse %s: %w", EnvConfig, err)
	}
	if c.ID == "" || c.AMQPURL == "" {
		return c, fmt.Errorf("parse %s: id and amqp_url are required", EnvConfig)
	}
	c.defaults()
	return c, nil
}

// Encode is the JSON form of the Config, for EnvConfig.
func (c Config) Encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Topology is how the worker declares the shared queues.
func (c Config) Topology() broker.Topology {
	return broker.Topology{Requests: c.QueueType, Log: c.SyncLog}
}
