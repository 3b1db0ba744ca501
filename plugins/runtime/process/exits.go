package process

import (
	"context"
	"errors"
	"sync"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// Exits returns the channel of worker exits, started or adopted, including
// those that happened before this call (they are queued from New on). One
// subscriber at a time: a second call while the first's ctx is live fails;
// after it ends, undelivered exits go to the next caller. The channel is
// closed when ctx or the Runtime's ctx ends.
func (r *Runtime) Exits(ctx context.Context) (<-chan runtime.Exit, error) {
	return r.exits.subscribe(ctx, r.ctx)
}

// exitQueue is an unbounded FIFO of exits: push never blocks, so the
// goroutines that wait for workers never stall on a slow reader.
type exitQueue struct {
	mu         sync.Mutex
	items      []runtime.Exit
	wake       chan struct{} // capacity 1: "items may be non-empty"
	subscribed bool
}

func newExitQueue() *exitQueue {
	return &exitQueue{wake: make(chan struct{}, 1)}
}

func (q *exitQueue) push(e runtime.Exit) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

var errSubscribed = errors.New("exits already subscribed")

// subscribe starts the pump that moves queued exits to the returned channel
// until ctx or life ends. An exit is dequeued only once it was sent.
func (q *exitQueue) subscribe(ctx, life context.Context) (<-chan runtime.Exit, error) {
	q.mu.Lock()
	if q.subscribed {
		q.mu.Unlock()
		return nil, errSubscribed
	}
	q.subscribed = true
	q.mu.Unlock()

	out := make(chan runtime.Exit)
	go func() {
		defer func() {
			q.mu.Lock()
			q.subscribed = false
			q.mu.Unlock()
			close(out)
		}()
		for {
			q.mu.Lock()
			if len(q.items) == 0 {
				q.mu.Unlock()
				select {
				case <-q.wake:
					continue
				case <-ctx.Done():
					return
				case <-life.Done():
					return
				}
			}
			e := q.items[0]
			q.mu.Unlock()
			select {
			case out <- e:
				q.mu.Lock()
				q.items = q.items[1:]
				if len(q.items) == 0 {
					q.items = nil
				}
				q.mu.Unlock()
			case <-ctx.Done():
				return
			case <-life.Done():
				return
			}
		}
	}()
	return out, nil
}
