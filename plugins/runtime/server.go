package runtime

// The plugin side of the runtime kind: the go-plugin glue (Plugin) and the
// gRPC server of proto/runtime.proto that holds one Runtime inside the
// plugin process.

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rideshare/dbaas/plugins/pluginrpc"
	pb "github.com/rideshare/dbaas/plugins/runtime/proto"
)

// ServiceName is the gRPC service of runtime plugins.
const ServiceName = "rideshare.runtime.v1.Runtime"

func init() {
	pluginrpc.RegisterSentinel("runtime.not_found", codes.NotFound, ErrNotFound)
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
	base := pluginrpc.Base(p.Context)
	pb.RegisterRuntimeServer(s, newServer(p.Factory, base))
	return nil
}

// GRPCClient returns a *GRPCClient. ctx is done when the plugin process exits.
func (p *Plugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &GRPCClient{rpc: pb.NewRuntimeClient(c), process: ctx}, nil
}

// server holds the one Runtime of a plugin process.
type server struct {
	pb.UnimplementedRuntimeServer
	factory Factory
	base    context.Context
	rt      pluginrpc.Holder[Runtime]
}

func newServer(f Factory, base context.Context) *server {
	s := &server{factory: f, base: base}
	s.rt.Missing = "runtime plugin not configured: the host must call Configure first"
	s.rt.Present = "runtime plugin already configured"
	return s
}

var empty = &emptypb.Empty{}

func (s *server) Configure(_ context.Context, cfg *pb.Config) (*emptypb.Empty, error) {
	err := s.rt.Set(func() (Runtime, error) {
		if s.factory == nil {
			return nil, pluginrpc.Errorf(codes.FailedPrecondition, "runtime plugin has no factory")
		}
		return s.factory(s.base, configFromProto(cfg))
	})
	return empty, pluginrpc.ToStatus(err)
}

func (s *server) Start(ctx context.Context, spec *pb.Spec) (*pb.Handle, error) {
	rt, err := s.rt.Get()
	if err != nil {
		return nil, err
	}
	h, err := rt.Start(ctx, specFromProto(spec))
	if err != nil {
		return nil, pluginrpc.ToStatus(err)
	}
	return handleToProto(h), nil
}

func (s *server) Stop(ctx context.Context, r *pb.StopRequest) (*emptypb.Empty, error) {
	rt, err := s.rt.Get()
	if err != nil {
		return nil, err
	}
	return empty, pluginrpc.ToStatus(rt.Stop(ctx, r.GetId(), durationFromProto(r.GetTimeout())))
}

func (s *server) Kill(ctx context.Context, r *pb.IDRequest) (*emptypb.Empty, error) {
	rt, err := s.rt.Get()
	if err != nil {
		return nil, err
	}
	return empty, pluginrpc.ToStatus(rt.Kill(ctx, r.GetId()))
}

func (s *server) List(ctx context.Context, _ *emptypb.Empty) (*pb.ListResponse, error) {
	rt, err := s.rt.Get()
	if err != nil {
		return nil, err
	}
	hs, err := rt.List(ctx)
	if err != nil {
		return nil, pluginrpc.ToStatus(err)
	}
	resp := &pb.ListResponse{Handles: make([]*pb.Handle, len(hs))}
	for i, h := range hs {
		resp.Handles[i] = handleToProto(h)
	}
	return resp, nil
}

func (s *server) Exits(_ *emptypb.Empty, stream grpc.ServerStreamingServer[pb.Exit]) error {
	rt, err := s.rt.Get()
	if err != nil {
		return err
	}
	ch, err := rt.Exits(stream.Context())
	if err != nil {
		return pluginrpc.ToStatus(err)
	}
	return pluginrpc.Pump(stream, ch, exitToProto)
}
