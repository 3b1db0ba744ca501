package pluginrpc

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
)

// Holder is the one configured instance of a plugin process (one runtime,
// one open database, one election session). Every call but the configuring
// one fails with codes.FailedPrecondition while it is empty.
type Holder[T any] struct {
	// Missing is the error message while nothing is held; Present the
	// message of a second Set.
	Missing, Present string

	mu   sync.Mutex
	impl T
	set  bool
}

// Get returns the held instance.
func (h *Holder[T]) Get() (T, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.set {
		var zero T
		return zero, Errorf(codes.FailedPrecondition, "%s", h.Missing)
	}
	return h.impl, nil
}

// Set holds what make builds; it refuses when something is held already.
// make runs under the holder's lock.
func (h *Holder[T]) Set(make func() (T, error)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set {
		return Errorf(codes.FailedPrecondition, "%s", h.Present)
	}
	impl, err := make()
	if err != nil {
		return err
	}
	h.impl, h.set = impl, true
	return nil
}

// Take removes the held instance; ok is false when there was none.
func (h *Holder[T]) Take() (impl T, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	impl, ok = h.impl, h.set
	var zero T
	h.impl, h.set = zero, false
	return impl, ok
}

// Close takes the held instance, if any, and closes it with close: the
// plugin side calls it when serving ends without the host having closed it.
func (h *Holder[T]) Close(close func(T) error) error {
	impl, ok := h.Take()
	if !ok {
		return nil
	}
	return close(impl)
}

// Unary is the shape of every unary handler of a kind's server: get the held
// instance, call, and map the error to its status.
func Unary[T, R any](h *Holder[T], call func(T) (R, error)) (R, error) {
	impl, err := h.Get()
	if err != nil {
		var zero R
		return zero, err
	}
	r, err := call(impl)
	if err != nil {
		var zero R
		return zero, ToStatus(err)
	}
	return r, nil
}

// Base is the context a kind's Plugin gives its implementation: ctx, or
// context.Background() when the caller set none.
func Base(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
