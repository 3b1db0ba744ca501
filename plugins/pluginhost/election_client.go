package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rideshare/dbaas/plugins/election"
)

// LoadElection starts the election plugin name and opens one session
// configured with cfg. The returned Election's Close also ends the plugin
// process.
//
// A session cannot survive its process. If the plugin process dies:
//   - Done() of the session closes (as on any session loss): a master must
//     stop acting;
//   - the plugin is restarted with the same cfg, giving a new session in
//     which the member is NOT joined: the caller must Join again (on Done, or
//     from LoadOptions.OnRestart);
//   - until it does, Update and Campaign fail with election.ErrSessionLost
//     (never retried: they belong to the lost session);
//   - Join, Epoch, Members, Leader and Remove are retried once on the new
//     process, and Watch channels re-subscribe and get one notification (the
//     membership changed: this member's record vanished with the session);
//   - Supervise belongs to the session like Join: once it returned, a
//     plugin death ends the hold (Done closes) and the caller must
//     Supervise again on the new process; Supervisor is retried once;
//   - so are Snapshots, PutSnapshot and DeleteSnapshot: catalog records are
//     persistent, not the session's, and putting or deleting one twice is
//     the same as once. They need no Join either.
func LoadElection(ctx context.Context, name string, cfg election.Config, opts LoadOptions) (election.Election, error) {
	sup, err := newSupervisor(KindElection, name, opts, func(ctx context.Context, raw any) error {
		return raw.(*election.GRPCClient).Configure(ctx, cfg)
	})
	if err != nil {
		return nil, err
	}
	if err := sup.start(ctx); err != nil {
		return nil, err
	}
	return &electionClient{sup: sup}, nil
}

// electionClient is the restartable host side of an election plugin.
type electionClient struct {
	sup *supervisor

	mu     sync.Mutex
	joined *instance // the process whose session the member joined (nil: none yet)

	closeOnce sync.Once
	closeErr  error
}

func elOf(inst *instance) *election.GRPCClient { return inst.raw.(*election.GRPCClient) }

func (c *electionClient) Join(ctx context.Context, m election.Member) error {
	join := func(inst *instance) (struct{}, error) {
		err := elOf(inst).Join(ctx, m)
		if err == nil {
			c.mu.Lock()
			c.joined = inst
			c.mu.Unlock()
		}
		return struct{}{}, err
	}
	_, err := call(ctx, c.sup, "Join", join, nil)
	return err
}

// session returns the instance holding the joined session, or ErrSessionLost
// when that process is gone. Before any Join it is the current instance.
func (c *electionClient) session(ctx context.Context, op string) (*instance, error) {
	c.mu.Lock()
	joined := c.joined
	c.mu.Unlock()
	if joined == nil {
		return c.sup.get(ctx)
	}
	if joined.dead() || c.sup.current() != joined {
		return nil, fmt.Errorf("%s: %s: %w: the plugin process was restarted since Join; Join again", c.sup.label(), op, election.ErrSessionLost)
	}
	return joined, nil
}

// sessionCall runs a session-bound call once; a plugin death during it is
// reported as ErrSessionLost (and the plugin is restarted for the next Join).
func sessionCall[T any](ctx context.Context, c *electionClient, op string, f func(*instance) (T, error)) (T, error) {
	var zero T
	inst, err := c.session(ctx, op)
	if err != nil {
		return zero, err
	}
	v, err := f(inst)
	if err != nil && c.sup.broken(ctx, inst, err) {
		_, _ = c.sup.recover(ctx, inst, err)
		return zero, fmt.Errorf("%s: %s: %w: the plugin process died (%w); Join again", c.sup.label(), op, election.ErrSessionLost, err)
	}
	return v, c.sup.labelTransport(ctx, op, err)
}

func (c *electionClient) Update(ctx context.Context, m election.Member) error {
	_, err := sessionCall(ctx, c, "Update", func(inst *instance) (struct{}, error) {
		return struct{}{}, elOf(inst).Update(ctx, m)
	})
	return err
}

func (c *electionClient) Campaign(ctx context.Context) (uint64, error) {
	return sessionCall(ctx, c, "Campaign", func(inst *instance) (uint64, error) { return elOf(inst).Campaign(ctx) })
}

// Handover belongs to the joined session: only its leader may hand over.
func (c *electionClient) Handover(ctx context.Context, to string) error {
	_, err := sessionCall(ctx, c, "Handover", func(inst *instance) (struct{}, error) {
		return struct{}{}, elOf(inst).Handover(ctx, to)
	})
	return err
}

func (c *electionClient) Epoch(ctx context.Context) (uint64, error) {
	return call(ctx, c.sup, "Epoch", func(inst *instance) (uint64, error) { return elOf(inst).Epoch(ctx) }, nil)
}

// Done is closed when the joined session is lost, including by the death of
// its plugin process. Before Join it follows the current process's session.
// After a re-Join, call Done again for the new session.
func (c *electionClient) Done() <-chan struct{} {
	c.mu.Lock()
	inst := c.joined
	c.mu.Unlock()
	if inst == nil {
		inst = c.sup.current()
	}
	if inst == nil { // closed
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return elOf(inst).Done()
}

func (c *electionClient) Members(ctx context.Context) ([]election.Member, error) {
	return call(ctx, c.sup, "Members", func(inst *instance) ([]election.Member, error) { return elOf(inst).Members(ctx) }, nil)
}

type leaderOK struct {
	l  election.Leader
	ok bool
}

func (c *electionClient) Leader(ctx context.Context) (election.Leader, bool, error) {
	r, err := call(ctx, c.sup, "Leader", func(inst *instance) (leaderOK, error) {
		l, ok, err := elOf(inst).Leader(ctx)
		return leaderOK{l, ok}, err
	}, nil)
	return r.l, r.ok, err
}

// Watch subscribes before it returns and keeps notifying across plugin
// restarts until ctx is done; then the channel is closed. Notifications are
// coalesced: one pending notification stands for any number of changes.
func (c *electionClient) Watch(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	err := c.sup.follow(ctx, "election Watch",
		func(ctx context.Context, inst *instance, ready func()) error {
			err := elOf(inst).WatchChanges(ctx, ready, notify)
			if errors.Is(err, election.ErrSessionLost) {
				// The session's end is the watch's: the caller opens a new one.
				return fmt.Errorf("%w: %w", errStreamOver, err)
			}
			return err
		},
		func(_, _ *instance) { notify() },
		func() { close(ch) })
	if err != nil {
		return nil, err
	}
	return ch, nil
}

func (c *electionClient) Remove(ctx context.Context, id string) error {
	_, err := call(ctx, c.sup, "Remove", func(inst *instance) (struct{}, error) {
		return struct{}{}, elOf(inst).Remove(ctx, id)
	}, nil)
	return err
}

// Supervise holds the lock in the current process's session; like Join it
// binds the client to that session, so Done follows it and a restarted
// process reports ErrSessionLost until the caller supervises (or joins)
// again. It is never retried: a death while waiting loses the place in
// line with the session.
func (c *electionClient) Supervise(ctx context.Context, id string) error {
	inst, err := c.sup.get(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.joined != nil && c.joined != inst {
		c.joined = nil // a session lost before: this call starts on the new one
	}
	c.mu.Unlock()
	_, err = sessionCall(ctx, c, "Supervise", func(inst *instance) (struct{}, error) {
		err := elOf(inst).Supervise(ctx, id)
		if err == nil {
			c.mu.Lock()
			c.joined = inst
			c.mu.Unlock()
		}
		return struct{}{}, err
	})
	return err
}

type supervisorOK struct {
	id string
	ok bool
}

func (c *electionClient) Supervisor(ctx context.Context) (string, bool, error) {
	r, err := call(ctx, c.sup, "Supervisor", func(inst *instance) (supervisorOK, error) {
		id, ok, err := elOf(inst).Supervisor(ctx)
		return supervisorOK{id, ok}, err
	}, nil)
	return r.id, r.ok, err
}

// Snapshots, PutSnapshot and DeleteSnapshot go to whichever process is
// current, not the joined session's: the catalog belongs to no session.

func (c *electionClient) Snapshots(ctx context.Context) ([]election.SnapshotRecord, error) {
	return call(ctx, c.sup, "Snapshots", func(inst *instance) ([]election.SnapshotRecord, error) {
		return elOf(inst).Snapshots(ctx)
	}, nil)
}

func (c *electionClient) PutSnapshot(ctx context.Context, r election.SnapshotRecord) error {
	_, err := call(ctx, c.sup, "PutSnapshot", func(inst *instance) (struct{}, error) {
		return struct{}{}, elOf(inst).PutSnapshot(ctx, r)
	}, nil)
	return err
}

func (c *electionClient) DeleteSnapshot(ctx context.Context, id string) error {
	_, err := call(ctx, c.sup, "DeleteSnapshot", func(inst *instance) (struct{}, error) {
		return struct{}{}, elOf(inst).DeleteSnapshot(ctx, id)
	}, nil)
	return err
}

// Close ends the session and the plugin process.
func (c *electionClient) Close() error {
	c.closeOnce.Do(func() {
		if inst := c.sup.current(); inst != nil && !inst.dead() {
			if err := elOf(inst).Close(); err != nil && !c.sup.broken(context.Background(), inst, err) {
				c.closeErr = err
			}
		}
		c.sup.close()
	})
	return c.closeErr
}
