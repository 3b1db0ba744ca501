package docker

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Start creates and starts the container rideshare-<id> from the image,
// with the image's entrypoint, Cmd = spec.Args and Env = spec.Env, in the
// host pid namespace, and returns once it runs, with State.Pid as its pid. A
// running worker with that id is refused; an exited leftover is removed.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Handle, error) {
	id := spec.ID
	if err := validID(id); err != nil {
		return runtime.Handle{}, err
	}
	name := NamePrefix + id
	if old, err := r.cli.ContainerInspect(ctx, name); err == nil {
		if old.State != nil && old.State.Running {
			return runtime.Handle{}, fmt.Errorf("worker %s: already running as container %s", id, name)
		}
		r.log.Info("removing leftover container", "id", id, "container", old.ID)
		if old.Config != nil {
			r.keepLog(id, old.ID, old.Config.Labels[LabelLogPath])
		}
		if err := r.cli.ContainerRemove(ctx, old.ID, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
			return runtime.Handle{}, fmt.Errorf("worker %s: remove leftover container: %w", id, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return runtime.Handle{}, fmt.Errorf("worker %s: inspect: %w", id, err)
	}

	labels := map[string]string{LabelWorker: "true", LabelID: id}
	if r.opts.stack != "" {
		labels[LabelStack] = r.opts.stack
	}
	if spec.LogPath != "" {
		if err := createLog(spec.LogPath); err != nil {
			return runtime.Handle{}, fmt.Errorf("worker %s: %w", id, err)
		}
		labels[LabelLogPath] = spec.LogPath
	}
	cfg := &container.Config{
		Image:  r.opts.image,
		Cmd:    spec.Args, // the image's entrypoint is the rideshare binary
		Env:    envList(spec.Env),
		Labels: labels,
		User:   r.opts.user,
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(r.opts.network),
		PidMode:     "host", // State.Pid == the worker's own os.Getpid()
		AutoRemove:  false,  // the exit code is read before removal
		Mounts:      r.mounts(),
		Binds:       r.opts.binds,
		// The image is FROM scratch: give the worker a writable /tmp.
		Tmpfs: map[string]string{"/tmp": "rw,nosuid,nodev,mode=1777"},
	}
	created, err := r.cli.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		return runtime.Handle{}, fmt.Errorf("worker %s: create container: %w", id, err)
	}
	for _, w := range created.Warnings {
		r.log.Warn("container create warning", "id", id, "warning", w)
	}
	if err := r.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		r.remove(created.ID)
		return runtime.Handle{}, fmt.Errorf("worker %s: start container: %w", id, err)
	}
	// The container runs: even if ctx ends now, learn its pid, or take it
	// back, rather than leave a worker nobody knows of.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	c, err := r.cli.ContainerInspect(ictx, created.ID)
	if err != nil {
		r.remove(created.ID)
		return runtime.Handle{}, fmt.Errorf("worker %s: inspect after start: %w", id, err)
	}
	if c.State == nil || !c.State.Running || c.State.Pid == 0 {
		code := -1
		if c.State != nil {
			code = c.State.ExitCode
		}
		// Its "die" event still reports the Exit and removes the container.
		return runtime.Handle{}, fmt.Errorf("worker %s: container exited at once (code %d)", id, code)
	}
	h := r.handleOf(c)
	r.log.Info("worker started", "id", id, "pid", h.PID, "container", c.ID[:12], "image", r.opts.image)
	return h, nil
}

// mounts is the data directory: a named volume when "data_volume" is set
// (at data_dir, default /data), else a bind of data_dir at the same path.
func (r *Runtime) mounts() []mount.Mount {
	switch {
	case r.opts.dataVolume != "":
		target := r.opts.dataDir
		if target == "" {
			target = "/data"
		}
		return []mount.Mount{{Type: mount.TypeVolume, Source: r.opts.dataVolume, Target: target}}
	case r.opts.dataDir != "":
		return []mount.Mount{{Type: mount.TypeBind, Source: r.opts.dataDir, Target: r.opts.dataDir}}
	}
	return nil
}

// envList is env as KEY=value, sorted for a deterministic container config.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
