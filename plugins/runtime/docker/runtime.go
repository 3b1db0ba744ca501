// Package docker is the Docker worker runtime: every worker is a container
// of the rideshare image, started with the official Docker client.
//
// Invariants:
//   - A worker is the container named rideshare-<id>, labelled
//     rideshare.worker=true and rideshare.id=<id> (plus rideshare.stack when
//     the "stack" option is set); Stop, Kill and List only touch containers
//     carrying this Runtime's labels, so stacks sharing an engine are apart.
//   - Containers use the host pid namespace, so a worker's os.Getpid() is the
//     container's State.Pid, the pid the orchestrator reports.
//   - Exits come from the engine's "die" events (re-subscribed with backoff
//     and replayed from the last event seen), reconciled with the exited
//     containers still present, so each exit is queued once per Runtime even
//     across event-stream errors. Exits are queued from New on.
//   - AutoRemove is off: the exit code is read first; the container is
//     removed once its Exit has been queued. A worker's output is in the
//     engine's log of its container (docker logs rideshare-<id>) while it
//     exists, and is appended to Spec.LogPath (the rideshare.log_path
//     label) before any removal, so the log of a crashed worker is kept
//     (logs.go).
//   - Workers outlive the Runtime: when New's ctx ends it stops watching but
//     leaves the containers running, for a restarted orchestrator to adopt.
package docker

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// Labels and the container name prefix every worker carries.
const (
	LabelWorker = "rideshare.worker"
	LabelID     = "rideshare.id"
	LabelStack  = "rideshare.stack"
	NamePrefix  = "rideshare-"
)

// Defaults of the runtime's options.
const (
	DefaultImage   = "rideshare:latest"
	DefaultNetwork = "host"
)

// Runtime runs workers as Docker containers. It implements runtime.Runtime.
type Runtime struct {
	cli  *client.Client
	opts options
	log  hclog.Logger
	ctx  context.Context

	mu    sync.Mutex
	known map[string]runtime.Handle // container id → handle, for Exit.PID

	exits *runtime.ExitQueue
}

var _ runtime.Runtime = (*Runtime)(nil)

// options are the HCL settings of the docker runtime.
type options struct {
	image      string   // "image": the worker image, built locally (no registry)
	network    string   // "network": network mode; "host" reaches 127.0.0.1 services
	dataDir    string   // "data_dir": bind-mounted at the same path (or the volume's target)
	dataVolume string   // "data_volume": a named volume mounted at data_dir instead of a bind
	stack      string   // "stack": value of the rideshare.stack label, isolates stacks
	user       string   // "user": uid:gid in the container (default: the orchestrator's)
	binds      []string // "binds": comma-separated extra Docker binds, src:dst[:ro]
}

// OptionKeys are the keys of runtime.Config.Options that the docker runtime
// accepts (see options); any other is refused (ValidateOptions).
var OptionKeys = []string{"image", "network", runtime.OptionDataDir, "data_volume", runtime.OptionStack, "user", "binds"}

// ValidateOptions refuses every option the docker runtime does not accept
// (see OptionKeys), naming the key; New calls it before reaching the engine.
func ValidateOptions(opts map[string]string) error {
	_, err := parseOptions(opts)
	return err
}

func parseOptions(o map[string]string) (options, error) {
	if err := plugins.CheckOptions("runtime", "docker", o, OptionKeys); err != nil {
		return options{}, err
	}
	opts := options{
		image:      o["image"],
		network:    o["network"],
		dataDir:    o[runtime.OptionDataDir],
		dataVolume: o["data_volume"],
		stack:      o[runtime.OptionStack],
		user:       o["user"],
	}
	for _, b := range strings.Split(o["binds"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			opts.binds = append(opts.binds, b)
		}
	}
	if opts.image == "" {
		opts.image = DefaultImage
	}
	if opts.network == "" {
		opts.network = DefaultNetwork
	}
	if _, set := o["user"]; !set {
		opts.user = strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	}
	return opts, nil
}

// New connects to the Docker engine (DOCKER_HOST etc. from the environment,
// API version negotiated: the engine may be older than the client), checks
// that the image exists locally, and starts watching exits. Options:
// "image" (default rideshare:latest), "network" (default host), "data_dir",
// "data_volume", "stack", "user", "binds"; any other is an error. Running
// workers with our labels are adopted at once. The Runtime stops watching
// when ctx ends.
func New(ctx context.Context, cfg runtime.Config, log hclog.Logger) (*Runtime, error) {
	opts, err := parseOptions(cfg.Options)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("runtime.docker")
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker runtime: client: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pingCtx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker runtime: engine not reachable at %s: %w", cli.DaemonHost(), err)
	}
	if _, err := cli.ImageInspect(pingCtx, opts.image); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker runtime: image %s not available locally (images are built locally, never pulled): %w", opts.image, err)
	}
	if opts.dataDir != "" && opts.dataVolume == "" {
		if err := os.MkdirAll(opts.dataDir, 0o755); err != nil {
			cli.Close()
			return nil, fmt.Errorf("docker runtime: data dir: %w", err)
		}
	}
	r := &Runtime{
		cli:   cli,
		opts:  opts,
		log:   log,
		ctx:   ctx,
		known: make(map[string]runtime.Handle),
		exits: runtime.NewExitQueue(),
	}
	hs, err := r.List(ctx)
	if err != nil {
		cli.Close()
		return nil, err
	}
	if len(hs) > 0 {
		log.Info("adopted running workers", "count", len(hs))
	}
	ready := make(chan struct{})
	go r.watchEvents(ready)
	select {
	case <-ready: // subscribed (or failed once and retrying): no exit is missed from here
	case <-ctx.Done():
	}
	go func() {
		<-ctx.Done()
		cli.Close()
	}()
	log.Info("docker runtime ready", "engine", cli.DaemonHost(), "api", cli.ClientVersion(),
		"image", opts.image, "network", opts.network, "stack", opts.stack)
	return r, nil
}

// labelFilters selects this Runtime's workers.
func (r *Runtime) labelFilters() filters.Args {
	f := filters.NewArgs(filters.Arg("label", LabelWorker+"=true"))
	if r.opts.stack != "" {
		f.Add("label", LabelStack+"="+r.opts.stack)
	}
	return f
}

// ours reports whether a container's labels make it one of our workers.
func (r *Runtime) ours(labels map[string]string) bool {
	if labels[LabelWorker] != "true" || labels[LabelID] == "" {
		return false
	}
	return r.opts.stack == "" || labels[LabelStack] == r.opts.stack
}

// running returns worker id's container if it is ours and running; the
// error wraps runtime.ErrNotFound otherwise.
func (r *Runtime) running(ctx context.Context, id string) (container.InspectResponse, error) {
	if err := validID(id); err != nil {
		return container.InspectResponse{}, fmt.Errorf("worker %s: %w", id, runtime.ErrNotFound)
	}
	c, err := r.cli.ContainerInspect(ctx, NamePrefix+id)
	switch {
	case errdefs.IsNotFound(err):
		return c, fmt.Errorf("worker %s: %w", id, runtime.ErrNotFound)
	case err != nil:
		return c, fmt.Errorf("worker %s: inspect: %w", id, err)
	case c.Config == nil || !r.ours(c.Config.Labels):
		return c, fmt.Errorf("worker %s: container %s is not one of ours: %w", id, NamePrefix+id, runtime.ErrNotFound)
	case c.State == nil || !c.State.Running:
		return c, fmt.Errorf("worker %s: not running: %w", id, runtime.ErrNotFound)
	}
	return c, nil
}

// handleOf turns an inspected container into a Handle and remembers it, so
// that its Exit can carry the pid (a "die" event does not).
func (r *Runtime) handleOf(c container.InspectResponse) runtime.Handle {
	h := runtime.Handle{ID: c.Config.Labels[LabelID]}
	if c.State != nil {
		h.PID = c.State.Pid
		h.StartedAt, _ = time.Parse(time.RFC3339Nano, c.State.StartedAt)
	}
	r.mu.Lock()
	r.known[c.ID] = h
	r.mu.Unlock()
	return h
}

// validName is what Docker accepts in a container name.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func validID(id string) error {
	if !validName.MatchString(id) || len(id) > 200 {
		return fmt.Errorf("invalid worker id %q: want [a-zA-Z0-9][a-zA-Z0-9_.-]*", id)
	}
	return nil
}
