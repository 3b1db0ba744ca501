// Package deployment wires a deployment's configuration (config.Config) to the
// orchestrator, the workers and their backends. The CLI commands and the test
// stacks both build on it, so both run the same wiring.
package deployment

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/config"
	"github.com/rideshare/dbaas/plugins/builtin"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/worker"
)

// ElectionConfig is the election backend's settings from the deployment.
func ElectionConfig(cfg *config.Config) election.Config {
	return election.Config{Servers: cfg.ZooKeeper.Servers, Root: cfg.ZooKeeper.Root,
		SessionTimeout: cfg.SessionTimeout(), Options: cfg.Election.Options}
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
		PluginDir: AbsDir(cfg.PluginDir), InProcess: true,
		MinSeqWait: cfg.MinSeqWait(), Prefetch: cfg.Worker.Prefetch,
	}
}

// OpenRuntime loads the deployment's runtime backend.
func OpenRuntime(ctx context.Context, cfg *config.Config, binary string, log hclog.Logger) (runtime.Runtime, error) {
	opts := map[string]string{"data_dir": AbsDir(cfg.DataDir), "stack": cfg.Stack}
	for k, v := range cfg.Runtime.Options {
		opts[k] = v
	}
	rc := runtime.Config{Binary: binary, StateDir: filepath.Join(AbsDir(cfg.DataDir), "run"), Options: opts}
	rt, err := builtin.Runtime(ctx, cfg.Runtime.Name, rc, log)
	if err != nil {
		return nil, fmt.Errorf("runtime %q: %w", cfg.Runtime.Name, err)
	}
	return rt, nil
}

// OpenElection opens a session with the deployment's election backend.
func OpenElection(ctx context.Context, name string, ec election.Config, log hclog.Logger) (election.Election, error) {
	el, err := builtin.Election(ctx, name, ec, log)
	if err != nil {
		return nil, fmt.Errorf("election %q: %w", name, err)
	}
	return el, nil
}

// OpenStorage opens one worker's database.
func OpenStorage(ctx context.Context, name string, sc storage.Config) (storage.Storage, error) {
	st, err := builtin.Storage(ctx, name, sc)
	if err != nil {
		return nil, fmt.Errorf("storage %q for worker %s: %w", name, sc.WorkerID, err)
	}
	return st, nil
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
