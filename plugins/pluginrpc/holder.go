package pluginrpc

import (
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
