package election

// This file is the go-plugin shim of the election kind: the plugin.GRPCPlugin
// implementation, the gRPC server that holds one session inside the plugin
// process, and the gRPC client that implements Election on the host side.
// Messages are JSON (see plugins/pluginhost/wire). Campaign is a unary call:
// cancelling its ctx on the host cancels the campaign inside the plugin.

import (
	"context"
	"errors"
	"io"
	"sync"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/rideshare/dbaas/plugins/pluginhost/wire"
)

// ServiceName is the gRPC service of election plugins.
const ServiceName = "rideshare.election.v1.Election"

func init() {
	wire.RegisterSentinel("election.not_leader", codes.FailedPrecondition, ErrNotLeader)
	wire.RegisterSentinel("election.session_lost", codes.Aborted, ErrSessionLost)
}

// Factory constructs an Election (one session) inside the plugin process when
// the host sends Configure. ctx lives as long as the plugin process (it is not
// the ctx of the Configure call).
type Factory func(ctx context.Context, cfg Config) (Election, error)

// Plugin is the plugin.GRPCPlugin of the election kind. On the plugin side
// Factory is set; on the host side it is nil and only GRPCClient is used.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Factory builds the session on Configure (plugin side only).
	Factory Factory
	// Context is given to Factory; nil means context.Background().
	Context context.Context

	srv *pluginServer
}

// CloseOpen closes the session the plugin still holds, if any. The plugin
// side calls it when serving ends without the host having called Close.
func (p *Plugin) CloseOpen() error {
	if p.srv == nil {
		return nil
	}
	return p.srv.closeOpen()
}

// GRPCServer registers the election service, wrapping p.Factory.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	base := p.Context
	if base == nil {
		base = context.Background()
	}
	p.srv = &pluginServer{factory: p.Factory, base: base}
	p.srv.service().Register(s)
	return nil
}

// GRPCClient returns a *GRPCClient. ctx is done when the plugin process exits.
func (p *Plugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &GRPCClient{conn: c, process: ctx, done: make(chan struct{})}, nil
}

// Wire messages. Member, Leader, SnapshotRecord and Config travel as they are.
type (
	epochResp struct {
		Epoch uint64 `json:"epoch"`
	}
	membersResp struct {
		Members []Member `json:"members"`
	}
	leaderResp struct {
		Leader Leader `json:"leader"`
		OK     bool   `json:"ok"`
	}
	idReq struct {
		ID string `json:"id"`
	}
	snapshotsResp struct {
		Snapshots []SnapshotRecord `json:"snapshots"`
	}
	empty struct{}
)

// pluginServer holds at most one session. Every call but Configure fails with
// codes.FailedPrecondition while there is none; Close ends it.
type pluginServer struct {
	factory Factory
	base    context.Context

	mu   sync.Mutex
	impl Election
}

func (s *pluginServer) get() (Election, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.impl == nil {
		return nil, wire.Errorf(codes.FailedPrecondition, "election plugin not configured: the host must call Configure first")
	}
	return s.impl, nil
}

func (s *pluginServer) closeOpen() error {
	s.mu.Lock()
	e := s.impl
	s.impl = nil
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	return e.Close()
}

func (s *pluginServer) service() *wire.Service {
	svc := wire.NewService(ServiceName)
	wire.Unary(svc, "Configure", func(_ context.Context, cfg *Config) (empty, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.impl != nil {
			return empty{}, wire.Errorf(codes.FailedPrecondition, "election plugin already configured")
		}
		if s.factory == nil {
			return empty{}, wire.Errorf(codes.FailedPrecondition, "election plugin has no factory")
		}
		e, err := s.factory(s.base, *cfg)
		if err != nil {
			return empty{}, err
		}
		s.impl = e
		return empty{}, nil
	})
	wire.Unary(svc, "Join", func(ctx context.Context, m *Member) (empty, error) {
		e, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, e.Join(ctx, *m)
	})
	wire.Unary(svc, "Update", func(ctx context.Context, m *Member) (empty, error) {
		e, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, e.Update(ctx, *m)
	})
	wire.Unary(svc, "Campaign", func(ctx context.Context, _ *empty) (epochResp, error) {
		e, err := s.get()
		if err != nil {
			return epochResp{}, err
		}
		ep, err := e.Campaign(ctx)
		return epochResp{Epoch: ep}, err
	})
	wire.Unary(svc, "Epoch", func(ctx context.Context, _ *empty) (epochResp, error) {
		e, err := s.get()
		if err != nil {
			return epochResp{}, err
		}
		ep, err := e.Epoch(ctx)
		return epochResp{Epoch: ep}, err
	})
	wire.Unary(svc, "Members", func(ctx context.Context, _ *empty) (membersResp, error) {
		e, err := s.get()
		if err != nil {
			return membersResp{}, err
		}
		ms, err := e.Members(ctx)
		return membersResp{Members: ms}, err
	})
	wire.Unary(svc, "Leader", func(ctx context.Context, _ *empty) (leaderResp, error) {
		e, err := s.get()
		if err != nil {
			return leaderResp{}, err
		}
		l, ok, err := e.Leader(ctx)
		return leaderResp{Leader: l, OK: ok}, err
	})
	wire.Unary(svc, "Remove", func(ctx context.Context, r *idReq) (empty, error) {
		e, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, e.Remove(ctx, r.ID)
	})
	wire.Unary(svc, "Snapshots", func(ctx context.Context, _ *empty) (snapshotsResp, error) {
		e, err := s.get()
		if err != nil {
			return snapshotsResp{}, err
		}
		rs, err := e.Snapshots(ctx)
		return snapshotsResp{Snapshots: rs}, err
	})
	wire.Unary(svc, "PutSnapshot", func(ctx context.Context, r *SnapshotRecord) (empty, error) {
		e, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, e.PutSnapshot(ctx, *r)
	})
	wire.Unary(svc, "DeleteSnapshot", func(ctx context.Context, r *idReq) (empty, error) {
		e, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, e.DeleteSnapshot(ctx, r.ID)
	})
	wire.Unary(svc, "Close", func(context.Context, *empty) (empty, error) {
		return empty{}, s.closeOpen()
	})
	wire.Stream(svc, "Watch", func(ctx context.Context, _ *empty) (<-chan struct{}, error) {
		e, err := s.get()
		if err != nil {
			return nil, err
		}
		return e.Watch(ctx)
	})
	// Done sends one message when the session is lost, then ends.
	wire.Stream(svc, "Done", func(ctx context.Context, _ *empty) (<-chan struct{}, error) {
		e, err := s.get()
		if err != nil {
			return nil, err
		}
		ch := make(chan struct{}, 1)
		go func() {
			defer close(ch)
			select {
			case <-e.Done():
				ch <- struct{}{}
			case <-ctx.Done():
			}
		}()
		return ch, nil
	})
	return svc
}

// GRPCClient is the host side of one election plugin process (one session):
// it implements Election by calling the plugin. It does not restart a dead
// plugin; the pluginhost package wraps it to do that.
type GRPCClient struct {
	conn    *grpc.ClientConn
	process context.Context

	doneOnce sync.Once
	done     chan struct{}
}

var _ Election = (*GRPCClient)(nil)

func rpcMethod(m string) string { return wire.Method(ServiceName, m) }

// ProcessDone is closed when the plugin process has exited.
func (c *GRPCClient) ProcessDone() <-chan struct{} { return c.process.Done() }

// Configure constructs the plugin's session from cfg. It must be the first call.
func (c *GRPCClient) Configure(ctx context.Context, cfg Config) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Configure"), cfg)
	return err
}

func (c *GRPCClient) Join(ctx context.Context, m Member) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Join"), m)
	return err
}

func (c *GRPCClient) Update(ctx context.Context, m Member) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Update"), m)
	return err
}

// Campaign blocks in the plugin; cancelling ctx cancels it there too.
func (c *GRPCClient) Campaign(ctx context.Context) (uint64, error) {
	r, err := wire.Invoke[epochResp](ctx, c.conn, rpcMethod("Campaign"), empty{})
	return r.Epoch, err
}

func (c *GRPCClient) Epoch(ctx context.Context) (uint64, error) {
	r, err := wire.Invoke[epochResp](ctx, c.conn, rpcMethod("Epoch"), empty{})
	return r.Epoch, err
}

// Done is closed when the session is lost: the plugin reported it, the
// session was closed, or the plugin process died. Call it only after
// Configure succeeded (before, it would report the session lost at once).
func (c *GRPCClient) Done() <-chan struct{} {
	c.doneOnce.Do(func() {
		go func() {
			defer close(c.done)
			recv, err := wire.Subscribe[struct{}](c.process, c.conn, rpcMethod("Done"), empty{})
			if err != nil {
				return
			}
			_, _ = recv()
		}()
	})
	return c.done
}

func (c *GRPCClient) Members(ctx context.Context) ([]Member, error) {
	r, err := wire.Invoke[membersResp](ctx, c.conn, rpcMethod("Members"), empty{})
	return r.Members, err
}

func (c *GRPCClient) Leader(ctx context.Context) (Leader, bool, error) {
	r, err := wire.Invoke[leaderResp](ctx, c.conn, rpcMethod("Leader"), empty{})
	return r.Leader, r.OK, err
}

// Watch subscribes before it returns; the channel is closed when ctx is done
// or the stream ends (the plugin ended it or died).
func (c *GRPCClient) Watch(ctx context.Context) (<-chan struct{}, error) {
	ctx, cancel := context.WithCancel(ctx)
	recv, err := wire.Subscribe[struct{}](ctx, c.conn, rpcMethod("Watch"), empty{})
	if err != nil {
		cancel()
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer cancel()
		defer close(ch)
		_ = c.pump(ctx, recv, func() {
			select {
			case ch <- struct{}{}:
			default: // a notification is already pending: coalesce
			}
		})
	}()
	return ch, nil
}

// WatchChanges is Watch for the host wrapper: it subscribes, calls subscribed
// once, then fn for every change until the stream ends. It returns nil when
// the plugin ended the stream, ctx.Err() when ctx is done, and otherwise the
// error that broke the stream (a transport error when the plugin died).
func (c *GRPCClient) WatchChanges(ctx context.Context, subscribed func(), fn func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recv, err := wire.Subscribe[struct{}](ctx, c.conn, rpcMethod("Watch"), empty{})
	if err != nil {
		return err
	}
	subscribed()
	return c.pump(ctx, recv, fn)
}

func (c *GRPCClient) pump(ctx context.Context, recv func() (struct{}, error), fn func()) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		fn()
	}
}

func (c *GRPCClient) Remove(ctx context.Context, id string) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Remove"), idReq{ID: id})
	return err
}

func (c *GRPCClient) Snapshots(ctx context.Context) ([]SnapshotRecord, error) {
	r, err := wire.Invoke[snapshotsResp](ctx, c.conn, rpcMethod("Snapshots"), empty{})
	return r.Snapshots, err
}

func (c *GRPCClient) PutSnapshot(ctx context.Context, r SnapshotRecord) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("PutSnapshot"), r)
	return err
}

func (c *GRPCClient) DeleteSnapshot(ctx context.Context, id string) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("DeleteSnapshot"), idReq{ID: id})
	return err
}

// Close ends the session inside the plugin; the process keeps running.
func (c *GRPCClient) Close() error {
	_, err := wire.Invoke[empty](context.Background(), c.conn, rpcMethod("Close"), empty{})
	return err
}
