package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/broker"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// follower reads the replication log and applies it to the storage by the
// rule of dbapi.Entry: epoch entries raise the epoch; a write applies iff its
// epoch is the current one and its seq is the next one; all else is skipped.
// It is the only writer of the storage until the worker becomes master.
type follower struct {
	w     *Worker
	ch    *amqp.Channel
	ds    <-chan amqp.Delivery
	state storage.State

	mu      sync.Mutex
	waiting map[string]chan struct{} // nonce → closed when read
	stopAt  string                   // nonce after which the follower returns
	done    chan struct{}            // closed when run returns
}

func newFollower(ctx context.Context, w *Worker, state storage.State) (*follower, error) {
	ch, err := w.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open log channel: %w", err)
	}
	from := int64(-1)
	if state.Offset >= 0 {
		from = state.Offset + 1
	}
	ds, err := broker.Follow(ctx, ch, from, 256)
	if err != nil {
		ch.Close()
		return nil, err
	}
	return &follower{w: w, ch: ch, ds: ds, state: state, waiting: map[string]chan struct{}{}, done: make(chan struct{})}, nil
}

// waitFor returns a channel closed once the entry with nonce has been read.
// With stop, the follower returns right after it: the master takes over.
func (f *follower) waitFor(nonce string, stop bool) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan struct{})
	f.waiting[nonce] = c
	if stop {
		f.stopAt = nonce
	}
	return c
}

func (f *follower) run(ctx context.Context) error {
	defer close(f.done)
	defer f.ch.Close()
	for {
		var d amqp.Delivery
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d, ok = <-f.ds:
		}
		if !ok {
			return errors.New("replication log consumer closed")
		}
		e, off, err := broker.DecodeEntry(d)
		if err != nil {
			// Every replica skips an unreadable entry alike.
			f.w.log.Error("skipping unreadable log entry", "error", err)
			e = dbapi.Entry{Kind: dbapi.EntryMark}
		}
		if err := f.apply(ctx, e, off); err != nil {
			return err
		}
		if err := d.Ack(false); err != nil {
			return fmt.Errorf("ack log offset %d: %w", off, err)
		}
		if e.Nonce != "" {
			f.mu.Lock()
			c, mine := f.waiting[e.Nonce]
			delete(f.waiting, e.Nonce)
			stop := mine && f.stopAt == e.Nonce
			f.mu.Unlock()
			if mine {
				close(c)
			}
			if stop {
				return nil
			}
		}
	}
}

// apply applies one entry at stream offset off.
func (f *follower) apply(ctx context.Context, e dbapi.Entry, off int64) error {
	s := &f.state
	switch {
	case e.Kind == dbapi.EntryWrite && e.Write != nil && e.Epoch == s.Epoch && e.Seq == s.Seq+1:
		_, err := f.w.st.Apply(ctx, e, off)
		if err != nil && !errors.Is(err, storage.ErrConstraint) {
			return fmt.Errorf("apply seq %d: %w", e.Seq, err)
		}
		if err != nil {
			f.w.log.Warn("log entry violated a constraint; skipped alike everywhere", "seq", e.Seq, "error", err)
		}
		s.Seq = e.Seq
		f.w.applied.set(s.Seq)
	default:
		if e.Kind == dbapi.EntryEpoch && e.Epoch > s.Epoch {
			s.Epoch = e.Epoch
			f.w.logEpoch.Store(e.Epoch)
			f.w.log.Info("new master epoch", "epoch", e.Epoch)
		} else if e.Kind == dbapi.EntryWrite && e.Epoch < s.Epoch {
			f.w.log.Warn("fenced: skipping a write of a deposed master", "seq", e.Seq, "epoch", e.Epoch, "current_epoch", s.Epoch)
		} else if e.Kind == dbapi.EntryWrite {
			f.w.log.Debug("skipping write entry", "seq", e.Seq, "epoch", e.Epoch, "applied", s.Seq, "current_epoch", s.Epoch)
		}
		if err := f.w.st.Advance(ctx, s.Epoch, off); err != nil {
			return fmt.Errorf("record log offset %d: %w", off, err)
		}
	}
	s.Offset = off
	return nil
}
