package process

import (
	"context"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// List returns every live worker in the state directory, adopting those an
// earlier Runtime started.
func (r *Runtime) List(ctx context.Context) ([]runtime.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.scan()
}
