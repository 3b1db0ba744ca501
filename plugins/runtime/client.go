package runtime

// The host side of the runtime kind: GRPCClient implements Runtime by
// calling a plugin process through the generated client of
// proto/runtime.proto.

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rideshare/dbaas/plugins/pluginrpc"
	pb "github.com/rideshare/dbaas/plugins/runtime/proto"
)

// GRPCClient is the host side of one runtime plugin process: it implements
// Runtime by calling the plugin. It does not restart a dead plugin; the
// pluginhost package wraps it to do that.
type GRPCClient struct {
	rpc     pb.RuntimeClient
	process context.Context
}

var _ Runtime = (*GRPCClient)(nil)

// ProcessDone is closed when the plugin process has exited.
func (c *GRPCClient) ProcessDone() <-chan struct{} { return c.process.Done() }

// Configure constructs the plugin's Runtime from cfg. It must be the first call.
func (c *GRPCClient) Configure(ctx context.Context, cfg Config) error {
	_, err := c.rpc.Configure(ctx, configToProto(cfg))
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Start(ctx context.Context, spec Spec) (Handle, error) {
	h, err := c.rpc.Start(ctx, specToProto(spec))
	if err != nil {
		return Handle{}, pluginrpc.FromStatus(ctx, err)
	}
	return handleFromProto(h), nil
}

func (c *GRPCClient) Stop(ctx context.Context, id string, timeout time.Duration) error {
	_, err := c.rpc.Stop(ctx, &pb.StopRequest{Id: id, Timeout: durationpb.New(timeout)})
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Kill(ctx context.Context, id string) error {
	_, err := c.rpc.Kill(ctx, &pb.IDRequest{Id: id})
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) List(ctx context.Context) ([]Handle, error) {
	r, err := c.rpc.List(ctx, &emptypb.Empty{})
	if err != nil {
		return nil, pluginrpc.FromStatus(ctx, err)
	}
	hs := make([]Handle, len(r.GetHandles()))
	for i, h := range r.GetHandles() {
		hs[i] = handleFromProto(h)
	}
	return hs, nil
}

func (c *GRPCClient) subscribe(ctx context.Context) (func() (*pb.Exit, error), error) {
	return pluginrpc.Subscribe(ctx, func(ctx context.Context) (grpc.ServerStreamingClient[pb.Exit], error) {
		return c.rpc.Exits(ctx, &emptypb.Empty{})
	})
}

// Exits subscribes before it returns; the channel is closed when ctx is done
// or the stream ends (the plugin ended it or died).
func (c *GRPCClient) Exits(ctx context.Context) (<-chan Exit, error) {
	ctx, cancel := context.WithCancel(ctx)
	recv, err := c.subscribe(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	ch := make(chan Exit)
	go func() {
		defer cancel()
		defer close(ch)
		for {
			m, err := recv()
			if err != nil {
				return
			}
			select {
			case ch <- exitFromProto(m):
			case <-ctx.Done():
				return
			}
		}
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
	recv, err := c.subscribe(ctx)
	if err != nil {
		return err
	}
	subscribed()
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(exitFromProto(m))
	}
}
