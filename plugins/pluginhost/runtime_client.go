package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rideshare/dbaas/plugins/runtime"
)

// LoadRuntime starts the runtime plugin name, configured with cfg, and
// returns it as a runtime.Runtime plus a Closer that ends the plugin process
// (workers keep running; a later runtime adopts them through List).
//
// The client holds one Exits subscription per plugin process, opened before
// the process is used, and fans it out to every Exits channel; it tracks the
// workers it knows of (from Start, List and the exits seen).
//
// If the plugin process dies, it is restarted with the same cfg and:
//   - a call that failed because of it is retried once on the new process;
//     a retried Start first looks for spec.ID in List (the first attempt may
//     have started it), a retried Stop/Kill of a worker known to have run
//     treats runtime.ErrNotFound as done;
//   - Exits channels keep delivering: the new process is subscribed before it
//     is used, then every known worker it does not list gets a synthetic
//     Exit (ExitCode -1): it ended while the runtime plugin was down. A real
//     exit that races with its synthetic one is dropped (one Exit per worker).
func LoadRuntime(ctx context.Context, name string, cfg runtime.Config, opts LoadOptions) (runtime.Runtime, io.Closer, error) {
	c := &runtimeClient{
		known:     map[string]runtime.Handle{},
		synthetic: map[exitKey]struct{}{},
		subs:      map[*exitSub]struct{}{},
	}
	sup, err := newSupervisor(KindRuntime, name, opts, func(ctx context.Context, raw any) error {
		return raw.(*runtime.GRPCClient).Configure(ctx, cfg)
	})
	if err != nil {
		return nil, nil, err
	}
	sup.prepare = c.prepare
	c.sup = sup
	if err := sup.start(ctx); err != nil {
		return nil, nil, err
	}
	return c, closerFunc(func() error { sup.close(); return nil }), nil
}

// runtimeClient is the restartable host side of a runtime plugin.
type runtimeClient struct {
	sup *supervisor

	mu        sync.Mutex
	known     map[string]runtime.Handle // live workers as far as the host knows
	synthetic map[exitKey]struct{}      // synthetic exits sent, whose real exit must be dropped
	subs      map[*exitSub]struct{}
}

type exitKey struct {
	id  string
	pid int
}

func rtOf(inst *instance) *runtime.GRPCClient { return inst.raw.(*runtime.GRPCClient) }

// prepare runs on every new process before it is published: subscribe to
// its exits, then list its workers. After a restart, the known workers it
// does not list ended while the plugin was down.
func (c *runtimeClient) prepare(ctx context.Context, inst *instance, restart bool) error {
	if err := c.pump(ctx, inst); err != nil {
		return fmt.Errorf("subscribe to exits: %w", err)
	}
	if err := c.reconcile(ctx, inst, restart); err != nil {
		return fmt.Errorf("list workers: %w", err)
	}
	return nil
}

// reconcile replaces the known workers by inst's List; with report, the ones
// that vanished get a synthetic exit.
func (c *runtimeClient) reconcile(ctx context.Context, inst *instance, report bool) error {
	hs, err := rtOf(inst).List(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	live := make(map[string]runtime.Handle, len(hs))
	for _, h := range hs {
		live[h.ID] = h
	}
	if report {
		for id, h := range c.known {
			if _, ok := live[id]; ok {
				continue
			}
			c.sup.log.Warn("worker ended while the runtime plugin was down or unsubscribed", "worker", id, "pid", h.PID)
			c.synthetic[exitKey{id, h.PID}] = struct{}{}
			c.broadcastLocked(runtime.Exit{ID: id, PID: h.PID, ExitCode: -1, At: now})
		}
	}
	c.known = live
	return nil
}

// pump subscribes to inst's exits and returns once subscribed; a goroutine
// then delivers them until the process goes away (or is replaced). If the
// plugin ends the stream while it lives, pump subscribes again and
// reconciles what it may have missed.
func (c *runtimeClient) pump(ctx context.Context, inst *instance) error {
	ready := make(chan error, 1)
	go func() {
		subscribed := false
		for {
			err := rtOf(inst).WatchExits(context.Background(), func() {
				if !subscribed {
					subscribed = true
					ready <- nil
				} else {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := c.reconcile(ctx, inst, true); err != nil {
						c.sup.log.Error("listing workers after re-subscribing to exits failed", "error", err)
					}
				}
			}, c.deliver)
			if !subscribed {
				ready <- err
				return
			}
			if cur := c.sup.current(); inst.dead() || cur == nil || cur.gen > inst.gen {
				return // the process is gone (or closed): a successor has its own pump
			}
			c.sup.log.Warn("runtime Exits stream ended while the plugin is up; subscribing again", "error", err)
			select {
			case <-inst.exited:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	select {
	case err := <-ready:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliver fans a plugin exit out to every Exits channel.
func (c *runtimeClient) deliver(e runtime.Exit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := exitKey{e.ID, e.PID}
	if _, dup := c.synthetic[k]; dup {
		delete(c.synthetic, k) // already reported as lost
		return
	}
	delete(c.known, e.ID)
	c.broadcastLocked(e)
}

func (c *runtimeClient) broadcastLocked(e runtime.Exit) {
	delete(c.known, e.ID)
	for s := range c.subs {
		s.push(e)
	}
}

// exitSub is one Exits channel with an unbounded queue, so a slow reader
// never holds up the others or the plugin stream.
type exitSub struct {
	ch   chan runtime.Exit
	wake chan struct{}
	mu   sync.Mutex
	q    []runtime.Exit
}

func (s *exitSub) push(e runtime.Exit) {
	s.mu.Lock()
	s.q = append(s.q, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Exits delivers every exit seen from now on, across plugin restarts (see
// LoadRuntime), until ctx is done or the client is closed; then the channel
// is closed.
func (c *runtimeClient) Exits(ctx context.Context) (<-chan runtime.Exit, error) {
	if c.sup.current() == nil {
		return nil, fmt.Errorf("%s: %w", c.sup.label(), ErrClosed)
	}
	s := &exitSub{ch: make(chan runtime.Exit), wake: make(chan struct{}, 1)}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	go func() {
		defer close(s.ch)
		defer func() {
			c.mu.Lock()
			delete(c.subs, s)
			c.mu.Unlock()
		}()
		for {
			s.mu.Lock()
			q := s.q
			s.q = nil
			s.mu.Unlock()
			for _, e := range q {
				select {
				case s.ch <- e:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-s.wake:
			case <-ctx.Done():
				return
			case <-c.sup.stop:
				return
			}
		}
	}()
	return s.ch, nil
}

func (c *runtimeClient) remember(h runtime.Handle) {
	c.mu.Lock()
	c.known[h.ID] = h
	c.mu.Unlock()
}

func (c *runtimeClient) wasKnown(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.known[id]
	return ok
}

func (c *runtimeClient) Start(ctx context.Context, spec runtime.Spec) (runtime.Handle, error) {
	h, err := call(ctx, c.sup, "Start",
		func(inst *instance) (runtime.Handle, error) { return rtOf(inst).Start(ctx, spec) },
		func(inst *instance) (runtime.Handle, error) {
			hs, err := rtOf(inst).List(ctx)
			if err != nil {
				return runtime.Handle{}, err
			}
			for _, h := range hs {
				if h.ID == spec.ID {
					return h, nil // the first attempt started it
				}
			}
			return rtOf(inst).Start(ctx, spec)
		})
	if err == nil {
		c.remember(h)
	}
	return h, err
}

// retryGone makes a repeated Stop/Kill of a worker the host knew succeed when
// the restarted runtime no longer has it.
func (c *runtimeClient) retryGone(id string, known bool, f func(*instance) (struct{}, error)) func(*instance) (struct{}, error) {
	return func(inst *instance) (struct{}, error) {
		_, err := f(inst)
		if errors.Is(err, runtime.ErrNotFound) && known {
			return struct{}{}, nil
		}
		return struct{}{}, err
	}
}

func (c *runtimeClient) Stop(ctx context.Context, id string, timeout time.Duration) error {
	f := func(inst *instance) (struct{}, error) { return struct{}{}, rtOf(inst).Stop(ctx, id, timeout) }
	_, err := call(ctx, c.sup, "Stop", f, c.retryGone(id, c.wasKnown(id), f))
	return err
}

func (c *runtimeClient) Kill(ctx context.Context, id string) error {
	f := func(inst *instance) (struct{}, error) { return struct{}{}, rtOf(inst).Kill(ctx, id) }
	_, err := call(ctx, c.sup, "Kill", f, c.retryGone(id, c.wasKnown(id), f))
	return err
}

func (c *runtimeClient) List(ctx context.Context) ([]runtime.Handle, error) {
	hs, err := call(ctx, c.sup, "List", func(inst *instance) ([]runtime.Handle, error) { return rtOf(inst).List(ctx) }, nil)
	if err == nil {
		c.mu.Lock()
		for _, h := range hs {
			c.known[h.ID] = h
		}
		c.mu.Unlock()
	}
	return hs, err
}
