package runtime

import (
	"context"
	"errors"
	"sync"
)

// ExitQueue is an unbounded FIFO of exits that runtimes share: Push never
// blocks, so the goroutines that wait for workers never stall on a slow
// reader, and exits that happen before anyone subscribed are kept.
type ExitQueue struct {
	mu         sync.Mutex
	items      []Exit
	wake       chan struct{} // capacity 1: "items may be non-empty"
	subscribed bool
}

// NewExitQueue makes an empty queue.
func NewExitQueue() *ExitQueue {
	return &ExitQueue{wake: make(chan struct{}, 1)}
}

// Push queues one exit.
func (q *ExitQueue) Push(e Exit) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// ErrSubscribed: Exits allows one subscriber at a time.
var ErrSubscribed = errors.New("exits already subscribed")

// Subscribe starts the pump that moves queued exits to the returned channel
// until ctx or life ends. An exit is dequeued only once it was sent.
func (q *ExitQueue) Subscribe(ctx, life context.Context) (<-chan Exit, error) {
	q.mu.Lock()
	if q.subscribed {
		q.mu.Unlock()
		return nil, ErrSubscribed
	}
	q.subscribed = true
	q.mu.Unlock()

	out := make(chan Exit)
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
