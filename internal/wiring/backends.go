// Package wiring wires a deployment's configuration (config.Config) to the
// orchestrator, the workers and their backends. The CLI commands and the test
// stacks both build on it, so both run the same wiring.
package wiring

import (
	"path/filepath"

	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/worker"
)

// ElectionConfig is the election backend's settings from the deployment.
func ElectionConfig(cfg *config.Config) election.Config {
	return election.Config{Servers: cfg.ZooKeeper.Servers, Root: cfg.ZooKeeper.Root,
		SessionTimeout: cfg.ZooKeeper.SessionTimeout, Options: cfg.Election.Options}
}

// OrchestratorElectionConfig is ElectionConfig with the orchestrator's own
// session timeout.
func OrchestratorElectionConfig(cfg *config.Config) election.Config {
	c := ElectionConfig(cfg)
	c.SessionTimeout = cfg.Orchestrator.SessionTimeout
	return c
}

// StorageConfig is one worker's database settings.
func StorageConfig(cfg *config.Config, id string) storage.Config {
	return storage.Config{WorkerID: id, DataDir: filepath.Join(AbsDir(cfg.DataDir), "db"), Options: cfg.Storage.Options}
}

// WorkerConfig is what the orchestrator hands a new worker.
func WorkerConfig(cfg *config.Config, id string) worker.Config {
	return worker.Config{
		ID: id, AMQPURL: cfg.AMQPURL,
		Election: ElectionConfig(cfg), ElectionPlugin: cfg.Election.Name,
		Storage: StorageConfig(cfg, id), StoragePlugin: cfg.Storage.Name,
		PluginDir: AbsDir(cfg.PluginDir), InProcess: cfg.BuiltinsInProcess(),
		MinSeqWait: cfg.Worker.MinSeqWait, Prefetch: cfg.Worker.Prefetch, BatchSize: cfg.Worker.BatchSize,
		SyncLog: cfg.SyncLog, QueueType: cfg.QueueType, SnapshotEntries: cfg.Snapshot.Entries, SnapshotInterval: cfg.Snapshot.Interval,
	}
}

// AbsDir makes a configured directory absolute: workers may run elsewhere.
func AbsDir(dir string) string {
	if dir == "" {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}
