package docker

import (
	"context"
	"fmt"
	"sort"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// List returns the running containers with our labels, sorted by id,
// including those an earlier orchestrator started (which are adopted: their
// exits are reported like any other).
func (r *Runtime) List(ctx context.Context) ([]runtime.Handle, error) {
	f := r.labelFilters()
	f.Add("status", "running")
	cs, err := r.cli.ContainerList(ctx, container.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker runtime: list containers: %w", err)
	}
	hs := make([]runtime.Handle, 0, len(cs))
	for _, s := range cs {
		if !r.ours(s.Labels) {
			continue
		}
		c, err := r.cli.ContainerInspect(ctx, s.ID)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("worker %s: inspect: %w", s.Labels[LabelID], err)
		}
		if c.State == nil || !c.State.Running || c.Config == nil {
			continue // exited meanwhile
		}
		hs = append(hs, r.handleOf(c))
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	return hs, nil
}
