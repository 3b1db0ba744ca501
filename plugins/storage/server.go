package storage

// The plugin side of the storage kind: the go-plugin glue (Plugin) and the
// gRPC server of proto/storage.proto that holds one open Storage inside the
// plugin process (one worker = one storage plugin process). Snapshots
// stream through transfer.go.

import (
	"context"
	"errors"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/pluginrpc"
	pb "github.com/rideshare/dbaas/plugins/storage/proto"
)

// ServiceName is the gRPC service of storage plugins.
const ServiceName = "rideshare.storage.v1.Storage"

// constraintReason names ErrConstraint on the wire.
const constraintReason = "storage.constraint"

func init() {
	pluginrpc.RegisterSentinel(constraintReason, codes.AlreadyExists, ErrConstraint)
	pluginrpc.RegisterError("dbapi.invalid", codes.InvalidArgument, dbapi.IsInvalid,
		func(msg string) error { return &dbapi.InvalidError{Msg: msg} })
}

// Plugin is the plugin.GRPCPlugin of the storage kind. On the plugin side
// Opener is set; on the host side it is nil and only GRPCClient is used.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Opener opens the database on the Open call (plugin side only).
	Opener Opener
	// Context is given to Opener; it lives as long as the plugin process.
	// nil means context.Background().
	Context context.Context

	held pluginrpc.Holder[Storage]
}

// CloseOpen closes the database the plugin still holds, if any. The plugin
// side calls it when serving ends without the host having called Close.
func (p *Plugin) CloseOpen() error { return p.held.Close(Storage.Close) }

// GRPCServer registers the storage service, wrapping p.Opener.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.held.Missing = "storage plugin has no open database: the host must call Open first"
	p.held.Present = "storage plugin already holds an open database"
	pb.RegisterStorageServer(s, &server{open: p.Opener, base: pluginrpc.Base(p.Context), st: &p.held})
	return nil
}

// GRPCClient returns a *GRPCClient. ctx is done when the plugin process exits.
func (p *Plugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &GRPCClient{rpc: pb.NewStorageClient(c), process: ctx}, nil
}

// server holds at most one open Storage.
type server struct {
	pb.UnimplementedStorageServer
	open Opener
	base context.Context
	st   *pluginrpc.Holder[Storage]
}

var empty = &emptypb.Empty{}

// take removes the open Storage (for Close and Destroy).
func (s *server) take() (Storage, error) {
	st, ok := s.st.Take()
	if !ok {
		return nil, pluginrpc.Errorf(codes.FailedPrecondition, "storage plugin has no open database")
	}
	return st, nil
}

func (s *server) Open(_ context.Context, cfg *pb.Config) (*emptypb.Empty, error) {
	err := s.st.Set(func() (Storage, error) {
		if s.open == nil {
			return nil, pluginrpc.Errorf(codes.FailedPrecondition, "storage plugin has no opener")
		}
		return s.open(s.base, configFromProto(cfg))
	})
	return empty, pluginrpc.ToStatus(err)
}

func (s *server) State(ctx context.Context, _ *emptypb.Empty) (*pb.State, error) {
	return pluginrpc.Unary(s.st, func(st Storage) (*pb.State, error) {
		state, err := st.State(ctx)
		return stateToProto(state), err
	})
}

func (s *server) Apply(ctx context.Context, b *pb.Batch) (*pb.ApplyResponse, error) {
	return pluginrpc.Unary(s.st, func(st Storage) (*pb.ApplyResponse, error) {
		batch, err := batchFromProto(b)
		if err != nil {
			return nil, err
		}
		outs, err := st.Apply(ctx, batch)
		resp := &pb.ApplyResponse{Outcomes: make([]*pb.Outcome, len(outs))}
		for i, o := range outs {
			resp.Outcomes[i] = outcomeToProto(o)
		}
		return resp, err
	})
}

func (s *server) Lookup(ctx context.Context, r *pb.LookupRequest) (*pb.LookupResponse, error) {
	return pluginrpc.Unary(s.st, func(st Storage) (*pb.LookupResponse, error) {
		res, ok, err := st.Lookup(ctx, r.GetWriteId())
		resp := &pb.LookupResponse{Result: resultToProto(res), Found: ok}
		switch {
		case err == nil:
		case ok && errors.Is(err, ErrConstraint):
			resp.Refused, resp.Conflict = err.Error(), true
		case ok && dbapi.IsInvalid(err):
			resp.Refused = err.Error()
		default:
			return nil, err
		}
		return resp, nil
	})
}

func (s *server) Read(ctx context.Context, q *pb.ReadRequest) (*pb.ReadResponse, error) {
	return pluginrpc.Unary(s.st, func(st Storage) (*pb.ReadResponse, error) {
		req, err := readFromProto(q)
		if err != nil {
			return nil, err
		}
		rows, err := st.Read(ctx, req)
		if err != nil {
			return nil, err
		}
		return rowsToProto(rows)
	})
}

func (s *server) Hash(ctx context.Context, _ *emptypb.Empty) (*pb.HashResponse, error) {
	return pluginrpc.Unary(s.st, func(st Storage) (*pb.HashResponse, error) {
		h, err := st.Hash(ctx)
		return &pb.HashResponse{Hash: h}, err
	})
}

func (s *server) Close(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	st, err := s.take()
	if err != nil {
		return nil, err
	}
	return empty, pluginrpc.ToStatus(st.Close())
}

func (s *server) Destroy(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	st, err := s.take()
	if err != nil {
		return nil, err
	}
	return empty, pluginrpc.ToStatus(st.Destroy(ctx))
}
