package wiring

import (
	"context"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/orchestrator"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/worker"
)

// OrchestratorOptions are the choices a deployment file does not make.
type OrchestratorOptions struct {
	// Binary is the rideshare binary workers run (default: this executable).
	Binary string
	// StopWorkers stops every worker when the orchestrator stops.
	StopWorkers bool
	Logger      hclog.Logger
}

// NewOrchestrator wires an orchestrator to the deployment's backends. The
// returned func releases them.
func NewOrchestrator(ctx context.Context, cfg *config.Config, opts OrchestratorOptions) (*orchestrator.Orchestrator, func(), error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	// The workers open the storage and election backends: a bad option is
	// refused here, not by every worker the orchestrator starts.
	if err := CheckOptions(cfg); err != nil {
		return nil, nil, err
	}
	load := LoaderFor(cfg, opts.Binary, log.Named("plugins"))
	restarts := orchestrator.NewPluginRestarts()
	load.OnRestart = restarts.Add
	rt, rtCloser, err := load.Runtime(ctx, cfg.Runtime.Name, RuntimeConfig(cfg, opts.Binary))
	if err != nil {
		return nil, nil, err
	}
	logDir := filepath.Join(AbsDir(cfg.DataDir), "logs")
	o, err := orchestrator.New(orchestrator.Options{
		ID: cfg.Orchestrator.ID, Listen: cfg.Orchestrator.Listen, AMQPURL: cfg.AMQPURL, RPCTimeout: cfg.Orchestrator.RPCTimeout, Topology: cfg.Topology(),
		Runtime: rt,
		OpenElection: func(ctx context.Context) (election.Election, error) {
			return load.Election(ctx, cfg.Election.Name, OrchestratorElectionConfig(cfg))
		},
		NewWorker: func(id string) runtime.Spec {
			return runtime.Spec{ID: id, Args: []string{"worker"},
				Env:     map[string]string{worker.EnvConfig: WorkerConfig(cfg, id).Encode(), "RIDESHARE_LOG_LEVEL": os.Getenv("RIDESHARE_LOG_LEVEL")},
				LogPath: filepath.Join(logDir, id+".log")}
		},
		DestroyWorker: func(ctx context.Context, id string) error {
			st, err := load.Storage(ctx, cfg.Storage.Name, StorageConfig(cfg, id))
			if err != nil {
				return err
			}
			return st.Destroy(ctx)
		},
		Slaves: cfg.Orchestrator.Slaves, ScaleInterval: cfg.Scaling.Interval,
		ReadsPerSlave: cfg.Scaling.ReadsPerSlave, MinSlaves: cfg.Scaling.MinSlaves, MaxSlaves: cfg.Scaling.MaxSlaves,
		StopWorkersOnExit: opts.StopWorkers,
		AdminToken:        cfg.Orchestrator.AdminToken,
		DBToken:           cfg.Orchestrator.DBToken,
		PluginRestarts:    restarts,
		Logger:            log,
	})
	if err != nil {
		rtCloser.Close()
		return nil, nil, err
	}
	return o, func() { rtCloser.Close() }, nil
}
