package runtime

// This file is the go-plugin shim of the runtime kind: the plugin.GRPCPlugin
// implementation, the gRPC server that wraps a Runtime inside the plugin
// process, and the gRPC client that implements Runtime on the host side.
// Messages are JSON (see plugins/pluginhost/wire); no protoc code is involved.

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/rideshare/dbaas/plugins/pluginhost/wire"
)

// ServiceName is the gRPC service of runtime plugins.
const ServiceName = "rideshare.runtime.v1.Runtime"

func init() {
	wire.RegisterSentinel("runtime.not_found", codes.NotFound, ErrNotFound)
}

// Factory constructs a Runtime inside the plugin process when the host sends
// Configure. ctx lives as long as the plugin process (it is not the ctx of the
// Configure call), so an implementation may keep it for background work.
type Factory func(ctx context.Context, cfg Config) (Runtime, error)

// Plugin is the plugin.GRPCPlugin of the runtime kind. On the plugin side
// Factory is set; on the host side it is nil and only GRPCClient is used.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Factory builds the implementation on Configure (plugin side only).
	Factory Factory
	// Context is given to Factory; nil means context.Background().
	Context context.Context
}

// GRPCServer registers the runtime service, wrapping p.Factory.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	base := p.Context
	if base == nil {
		base = context.Background()
	}
	newPluginServer(p.Factory, base).service().Register(s)
	return nil
}

// GRPCClient returns a *GRPCClient. ctx is done when the plugin process exits.
func (p *Plugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &GRPCClient{conn: c, process: ctx}, nil
}

// Wire messages. Spec, Handle, Exit and Config travel as they are.
type (
	stopReq struct {
		ID      string        `json:"id"`
		Timeout time.Duration `json:"timeout"`
	}
	idReq struct {
		ID string `json:"id"`
	}
	listResp struct {
		Handles []Handle `json:"handles"`
	}
	empty struct{}
)

// pluginServer holds the one Runtime of a plugin process. Every call but Configure
// fails with codes.FailedPrecondition until Configure succeeded.
type pluginServer struct {
	factory Factory
	base    context.Context

	mu   sync.Mutex
	impl Runtime
}

func newPluginServer(f Factory, base context.Context) *pluginServer {
	return &pluginServer{factory: f, base: base}
}

func (s *pluginServer) get() (Runtime, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.impl == nil {
		return nil, wire.Errorf(codes.FailedPrecondition, "runtime plugin not configured: the host must call Configure first")
	}
	return s.impl, nil
}

func (s *pluginServer) service() *wire.Service {
	svc := wire.NewService(ServiceName)
	wire.Unary(svc, "Configure", func(_ context.Context, cfg *Config) (empty, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.impl != nil {
			return empty{}, wire.Errorf(codes.FailedPrecondition, "runtime plugin already configured")
		}
		if s.factory == nil {
			return empty{}, wire.Errorf(codes.FailedPrecondition, "runtime plugin has no factory")
		}
		impl, err := s.factory(s.base, *cfg)
		if err != nil {
			return empty{}, err
		}
		s.impl = impl
		return empty{}, nil
	})
	wire.Unary(svc, "Start", func(ctx context.Context, spec *Spec) (Handle, error) {
		rt, err := s.get()
		if err != nil {
			return Handle{}, err
		}
		return rt.Start(ctx, *spec)
	})
	wire.Unary(svc, "Stop", func(ctx context.Context, r *stopReq) (empty, error) {
		rt, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, rt.Stop(ctx, r.ID, r.Timeout)
	})
	wire.Unary(svc, "Kill", func(ctx context.Context, r *idReq) (empty, error) {
		rt, err := s.get()
		if err != nil {
			return empty{}, err
		}
		return empty{}, rt.Kill(ctx, r.ID)
	})
	wire.Unary(svc, "List", func(ctx context.Context, _ *empty) (listResp, error) {
		rt, err := s.get()
		if err != nil {
			return listResp{}, err
		}
		hs, err := rt.List(ctx)
		return listResp{Handles: hs}, err
	})
	wire.Stream(svc, "Exits", func(ctx context.Context, _ *empty) (<-chan Exit, error) {
		rt, err := s.get()
		if err != nil {
			return nil, err
		}
		return rt.Exits(ctx)
	})
	return svc
}

// GRPCClient is the host side of one runtime plugin process: it implements
// Runtime by calling the plugin. It does not restart a dead plugin; the
// pluginhost package wraps it to do that.
type GRPCClient struct {
	conn    *grpc.ClientConn
	process context.Context
}

var _ Runtime = (*GRPCClient)(nil)

func rpcMethod(m string) string { return wire.Method(ServiceName, m) }

// ProcessDone is closed when the plugin process has exited.
func (c *GRPCClient) ProcessDone() <-chan struct{} { return c.process.Done() }

// Configure constructs the plugin's Runtime from cfg. It must be the first call.
func (c *GRPCClient) Configure(ctx context.Context, cfg Config) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Configure"), cfg)
	return err
}

func (c *GRPCClient) Start(ctx context.Context, spec Spec) (Handle, error) {
	return wire.Invoke[Handle](ctx, c.conn, rpcMethod("Start"), spec)
}

func (c *GRPCClient) Stop(ctx context.Context, id string, timeout time.Duration) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Stop"), stopReq{ID: id, Timeout: timeout})
	return err
}

func (c *GRPCClient) Kill(ctx context.Context, id string) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Kill"), idReq{ID: id})
	return err
}

func (c *GRPCClient) List(ctx context.Context) ([]Handle, error) {
	r, err := wire.Invoke[listResp](ctx, c.conn, rpcMethod("List"), empty{})
	return r.Handles, err
}

// Exits subscribes before it returns; the channel is closed when ctx is done
// or the stream ends (the plugin ended it or died).
func (c *GRPCClient) Exits(ctx context.Context) (<-chan Exit, error) {
	ctx, cancel := context.WithCancel(ctx)
	recv, err := wire.Subscribe[Exit](ctx, c.conn, rpcMethod("Exits"), empty{})
	if err != nil {
		cancel()
		return nil, err
	}
	ch := make(chan Exit)
	go func() {
		defer cancel()
		defer close(ch)
		_ = forwardStream(ctx, recv, ch)
	}()
	return ch, nil
}

// WatchExits is Exits for the host wrapper: it subscribes, then calls
// subscribed once, then fn for every Exit until the stream ends. It returns
// nil when the plugin ended the stream, ctx.Err() when ctx is done, and
// otherwise the error that broke the stream (a transport error when the
// plugin died).
func (c *GRPCClient) WatchExits(ctx context.Context, subscribed func(), fn func(Exit)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recv, err := wire.Subscribe[Exit](ctx, c.conn, rpcMethod("Exits"), empty{})
	if err != nil {
		return err
	}
	subscribed()
	for {
		e, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(e)
	}
}

func forwardStream[T any](ctx context.Context, recv func() (T, error), ch chan<- T) error {
	for {
		v, err := recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		select {
		case ch <- v:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
