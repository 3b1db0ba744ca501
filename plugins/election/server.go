package election

// The plugin side of the election kind: the go-plugin glue (Plugin) and the
// gRPC server of proto/election.proto that holds one session inside the
// plugin process. Campaign is a unary call: cancelling its ctx on the host
// cancels the campaign inside the plugin.

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/rideshare/dbaas/plugins/election/proto"
	"github.com/rideshare/dbaas/plugins/pluginrpc"
)

// ServiceName is the gRPC service of election plugins.
const ServiceName = "rideshare.election.v1.Election"

func init() {
	pluginrpc.RegisterSentinel("election.not_leader", codes.FailedPrecondition, ErrNotLeader)
	pluginrpc.RegisterSentinel("election.session_lost", codes.Aborted, ErrSessionLost)
	pluginrpc.RegisterSentinel("election.no_member", codes.NotFound, ErrNoMember)
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

	held pluginrpc.Holder[Election]
}

// CloseOpen closes the session the plugin still holds, if any. The plugin
// side calls it when serving ends without the host having called Close.
func (p *Plugin) CloseOpen() error { return p.held.Close(Election.Close) }

// GRPCServer registers the election service, wrapping p.Factory.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.held.Missing = "election plugin not configured: the host must call Configure first"
	p.held.Present = "election plugin already configured"
	pb.RegisterElectionServer(s, &server{factory: p.Factory, base: pluginrpc.Base(p.Context), el: &p.held})
	return nil
}

// GRPCClient returns a *GRPCClient. ctx is done when the plugin process exits.
func (p *Plugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &GRPCClient{rpc: pb.NewElectionClient(c), process: ctx, done: make(chan struct{})}, nil
}

// server holds at most one session.
type server struct {
	pb.UnimplementedElectionServer
	factory Factory
	base    context.Context
	el      *pluginrpc.Holder[Election]
}

var empty = &emptypb.Empty{}

func (s *server) Configure(_ context.Context, cfg *pb.Config) (*emptypb.Empty, error) {
	err := s.el.Set(func() (Election, error) {
		if s.factory == nil {
			return nil, pluginrpc.Errorf(codes.FailedPrecondition, "election plugin has no factory")
		}
		return s.factory(s.base, configFromProto(cfg))
	})
	return empty, pluginrpc.ToStatus(err)
}

func (s *server) Join(ctx context.Context, m *pb.Member) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.Join(ctx, memberFromProto(m)) })
}

func (s *server) Update(ctx context.Context, m *pb.Member) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.Update(ctx, memberFromProto(m)) })
}

func (s *server) Campaign(ctx context.Context, _ *emptypb.Empty) (*pb.EpochResponse, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*pb.EpochResponse, error) {
		ep, err := e.Campaign(ctx)
		return &pb.EpochResponse{Epoch: ep}, err
	})
}

func (s *server) Epoch(ctx context.Context, _ *emptypb.Empty) (*pb.EpochResponse, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*pb.EpochResponse, error) {
		ep, err := e.Epoch(ctx)
		return &pb.EpochResponse{Epoch: ep}, err
	})
}

func (s *server) Members(ctx context.Context, _ *emptypb.Empty) (*pb.MembersResponse, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*pb.MembersResponse, error) {
		ms, err := e.Members(ctx)
		resp := &pb.MembersResponse{Members: make([]*pb.Member, len(ms))}
		for i, m := range ms {
			resp.Members[i] = memberToProto(m)
		}
		return resp, err
	})
}

func (s *server) Leader(ctx context.Context, _ *emptypb.Empty) (*pb.LeaderResponse, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*pb.LeaderResponse, error) {
		l, ok, err := e.Leader(ctx)
		return &pb.LeaderResponse{Leader: leaderToProto(l), Ok: ok}, err
	})
}

func (s *server) Handover(ctx context.Context, r *pb.IDRequest) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.Handover(ctx, r.GetId()) })
}

func (s *server) Remove(ctx context.Context, r *pb.IDRequest) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.Remove(ctx, r.GetId()) })
}

func (s *server) Snapshots(ctx context.Context, _ *emptypb.Empty) (*pb.SnapshotsResponse, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*pb.SnapshotsResponse, error) {
		rs, err := e.Snapshots(ctx)
		resp := &pb.SnapshotsResponse{Snapshots: make([]*pb.SnapshotRecord, len(rs))}
		for i, r := range rs {
			resp.Snapshots[i] = snapshotToProto(r)
		}
		return resp, err
	})
}

func (s *server) PutSnapshot(ctx context.Context, r *pb.SnapshotRecord) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.PutSnapshot(ctx, snapshotFromProto(r)) })
}

func (s *server) DeleteSnapshot(ctx context.Context, r *pb.IDRequest) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.DeleteSnapshot(ctx, r.GetId()) })
}

// Supervise is a unary call, like Campaign: cancelling it on the host
// cancels the wait inside the plugin.
func (s *server) Supervise(ctx context.Context, r *pb.IDRequest) (*emptypb.Empty, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*emptypb.Empty, error) { return empty, e.Supervise(ctx, r.GetId()) })
}

func (s *server) Supervisor(ctx context.Context, _ *emptypb.Empty) (*pb.SupervisorResponse, error) {
	return pluginrpc.Unary(s.el, func(e Election) (*pb.SupervisorResponse, error) {
		id, ok, err := e.Supervisor(ctx)
		return &pb.SupervisorResponse{Id: id, Ok: ok}, err
	})
}

func (s *server) Close(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return empty, pluginrpc.ToStatus(s.el.Close(Election.Close))
}

func (s *server) Watch(_ *emptypb.Empty, stream grpc.ServerStreamingServer[emptypb.Empty]) error {
	e, err := s.el.Get()
	if err != nil {
		return err
	}
	ch, err := e.Watch(stream.Context())
	if err != nil {
		return pluginrpc.ToStatus(err)
	}
	return pluginrpc.Pump(stream, ch, func(struct{}) *emptypb.Empty { return empty })
}

// Done sends one message when the session is lost, then ends.
func (s *server) Done(_ *emptypb.Empty, stream grpc.ServerStreamingServer[emptypb.Empty]) error {
	e, err := s.el.Get()
	if err != nil {
		return err
	}
	ctx := stream.Context()
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		select {
		case <-e.Done():
			ch <- struct{}{}
		case <-ctx.Done():
		}
	}()
	return pluginrpc.Pump(stream, ch, func(struct{}) *emptypb.Empty { return empty })
}
