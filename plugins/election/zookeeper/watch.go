package zookeeper

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// Watch returns a channel that receives whenever a member joins or leaves
// or the leader znode is created, deleted or changed. Sends never block: the
// channel holds one pending signal, and a burst of changes may collapse into
// it, so a receiver re-reads Members and Leader after each signal. Changes
// to a member's record (applied seq, draining) do not signal.
//
// The watches are armed before Watch returns: any change after that is
// signalled. The channel is closed when ctx is done or the session is lost
// (then Done is closed too).
func (e *Election) Watch(ctx context.Context) (<-chan struct{}, error) {
	var children, leader <-chan zk.Event
	if err := e.arm(ctx, &children, &leader); err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	go e.watchLoop(ctx, out, children, leader)
	return out, nil
}

// watchLoop re-arms each watch after it fires (only that one: go-zookeeper
// cannot cancel an unfired watch) and forwards a signal.
func (e *Election) watchLoop(ctx context.Context, out chan<- struct{}, children, leader <-chan zk.Event) {
	defer close(out)
	const maxBackoff = 2 * time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.done:
			return
		case <-children:
			children = nil
		case <-leader:
			leader = nil
		}
		signal(out)
		// Re-arming fails only while ZooKeeper is unreachable (existing
		// watches survive a reconnect, a failed request arms nothing). Retry
		// with backoff, then signal again: changes in between were missed.
		backoff := 100 * time.Millisecond
		for failed := false; ; failed = true {
			err := e.arm(ctx, &children, &leader)
			if err == nil {
				if failed {
					signal(out)
				}
				break
			}
			e.log.Debug("watch: re-arm failed, retrying", "error", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-e.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// arm sets whichever of the two watches is not armed (nil): a children
// watch on workers, and an exists watch on the leader (fires on creation,
// deletion and data change). Each is its own request, so one that succeeded
// is kept even if the other fails.
func (e *Election) arm(ctx context.Context, children, leader *<-chan zk.Event) error {
	if *children == nil {
		var ch <-chan zk.Event
		err := e.do(ctx, "watch "+e.workersPath, func() (err error) {
			if _, _, ch, err = e.conn.ChildrenW(e.workersPath); err != nil {
				return fmt.Errorf("watch %s: %w", e.workersPath, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		*children = ch
	}
	if *leader == nil {
		var ch <-chan zk.Event
		err := e.do(ctx, "watch "+e.leaderPath, func() (err error) {
			if _, _, ch, err = e.conn.ExistsW(e.leaderPath); err != nil {
				return fmt.Errorf("watch %s: %w", e.leaderPath, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		*leader = ch
	}
	return nil
}

// signal sends without blocking; a pending signal already covers this one.
func signal(out chan<- struct{}) {
	select {
	case out <- struct{}{}:
	default:
	}
}
