// Command runtime-labelled is a third-party worker runtime plugin: a separate
// binary, built outside the rideshare binary, that a deployment picks by
// name. It shows what a plugin author writes — one main calling
// pluginhost.ServeRuntime — and lets tests prove the host really runs it.
//
// It wraps the raw-process runtime and marks every worker it starts:
//   - the worker's environment gets RIDESHARE_WORKER_LABEL=<label>;
//   - a marker file <StateDir>/labelled/<worker id> holds the label and pid.
//
// The label is "labelled" unless the HCL block sets it:
//
//	runtime "labelled" {
//	  config = { label = "blue" }
//	}
//
// Install it where the host looks for plugins (plugin_dir, by default
// ${data_dir}/plugins) under the name rideshare-runtime-labelled:
//
//	CGO_ENABLED=0 go build -o "$DATA_DIR/plugins/rideshare-runtime-labelled" ./examples/runtime-labelled
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/pluginhost"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/runtime/process"
)

// EnvLabel is the variable every worker this runtime starts carries.
const EnvLabel = "RIDESHARE_WORKER_LABEL"

// MarkerDir is the directory, under the runtime's StateDir, of the marker
// files (one per worker started, named by worker id).
const MarkerDir = "labelled"

func main() {
	if err := pluginhost.ServeRuntime("labelled", newLabelled); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// OptionLabel is this runtime's own option; every other one is the process
// runtime's, which refuses a key it does not know.
const OptionLabel = "label"

// newLabelled runs inside the plugin process when the host sends Configure.
func newLabelled(ctx context.Context, cfg runtime.Config) (runtime.Runtime, error) {
	log := hclog.FromContext(ctx)
	label := cfg.Options[OptionLabel]
	if label == "" {
		label = "labelled"
	}
	inner := cfg
	inner.Options = map[string]string{}
	for k, v := range cfg.Options {
		if k != OptionLabel {
			inner.Options[k] = v
		}
	}
	rt, err := process.New(ctx, inner, log)
	if err != nil {
		return nil, fmt.Errorf("labelled runtime (options: %s and the process runtime's): %w", OptionLabel, err)
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(os.TempDir(), "rideshare-process-runtime")
	}
	dir := filepath.Join(stateDir, MarkerDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("labelled runtime: marker dir: %w", err)
	}
	log.Info("labelled runtime configured", "label", label, "markers", dir)
	return &labelled{Runtime: rt, label: label, dir: dir, log: log}, nil
}

// labelled is the process runtime with Start marking each worker; every
// other method is the process runtime's own.
type labelled struct {
	runtime.Runtime
	label string
	dir   string
	log   hclog.Logger
}

func (l *labelled) Start(ctx context.Context, spec runtime.Spec) (runtime.Handle, error) {
	env := make(map[string]string, len(spec.Env)+1)
	for k, v := range spec.Env {
		env[k] = v
	}
	env[EnvLabel] = l.label
	spec.Env = env
	h, err := l.Runtime.Start(ctx, spec)
	if err != nil {
		return h, err
	}
	marker := filepath.Join(l.dir, spec.ID)
	body := fmt.Sprintf("label=%s\npid=%d\nstarted_at=%s\n", l.label, h.PID, h.StartedAt.Format(time.RFC3339Nano))
	if err := os.WriteFile(marker, []byte(body), 0o644); err != nil {
		// The worker runs and is tracked; a missing marker only loses the proof.
		l.log.Error("writing worker marker failed", "id", spec.ID, "error", err)
	} else {
		l.log.Info("labelled worker", "id", spec.ID, "pid", h.PID, "label", l.label)
	}
	return h, nil
}
