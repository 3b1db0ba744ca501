package docker

import (
	"context"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Exits returns the channel of worker exits, started or adopted, including
// those that happened before this call (they are queued from New on). One
// subscriber at a time: a second call while the first's ctx is live fails;
// after it ends, undelivered exits go to the next caller. The channel is
// closed when ctx or the Runtime's ctx ends.
func (r *Runtime) Exits(ctx context.Context) (<-chan runtime.Exit, error) {
	return r.exits.Subscribe(ctx, r.ctx)
}
