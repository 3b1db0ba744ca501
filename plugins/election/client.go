package election

// The host side of the election kind: GRPCClient implements Election by
// calling a plugin process through the generated client of
// proto/election.proto.

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/rideshare/dbaas/plugins/election/proto"
	"github.com/rideshare/dbaas/plugins/pluginrpc"
)

// GRPCClient is the host side of one election plugin process (one session):
// it implements Election by calling the plugin. It does not restart a dead
// plugin; the pluginhost package wraps it to do that.
type GRPCClient struct {
	rpc     pb.ElectionClient
	process context.Context

	doneOnce sync.Once
	done     chan struct{}
}

var _ Election = (*GRPCClient)(nil)

var none = &emptypb.Empty{}

// ProcessDone is closed when the plugin process has exited.
func (c *GRPCClient) ProcessDone() <-chan struct{} { return c.process.Done() }

// Configure constructs the plugin's session from cfg. It must be the first call.
func (c *GRPCClient) Configure(ctx context.Context, cfg Config) error {
	_, err := c.rpc.Configure(ctx, configToProto(cfg))
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Join(ctx context.Context, m Member) error {
	_, err := c.rpc.Join(ctx, memberToProto(m))
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Update(ctx context.Context, m Member) error {
	_, err := c.rpc.Update(ctx, memberToProto(m))
	return pluginrpc.FromStatus(ctx, err)
}

// Campaign blocks in the plugin; cancelling ctx cancels it there too.
func (c *GRPCClient) Campaign(ctx context.Context) (uint64, error) {
	r, err := c.rpc.Campaign(ctx, none)
	return r.GetEpoch(), pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Epoch(ctx context.Context) (uint64, error) {
	r, err := c.rpc.Epoch(ctx, none)
	return r.GetEpoch(), pluginrpc.FromStatus(ctx, err)
}

// Done is closed when the session is lost: the plugin reported it, the
// session was closed, or the plugin process died. Call it only after
// Configure succeeded (before, it would report the session lost at once).
func (c *GRPCClient) Done() <-chan struct{} {
	c.doneOnce.Do(func() {
		go func() {
			defer close(c.done)
			recv, err := c.subscribe(c.process, c.rpc.Done)
			if err != nil {
				return
			}
			_, _ = recv()
		}()
	})
	return c.done
}

func (c *GRPCClient) Members(ctx context.Context) ([]Member, error) {
	r, err := c.rpc.Members(ctx, none)
	if err != nil {
		return nil, pluginrpc.FromStatus(ctx, err)
	}
	ms := make([]Member, len(r.GetMembers()))
	for i, m := range r.GetMembers() {
		ms[i] = memberFromProto(m)
	}
	return ms, nil
}

func (c *GRPCClient) Leader(ctx context.Context) (Leader, bool, error) {
	r, err := c.rpc.Leader(ctx, none)
	if err != nil {
		return Leader{}, false, pluginrpc.FromStatus(ctx, err)
	}
	return leaderFromProto(r.GetLeader()), r.GetOk(), nil
}

type streamOpener = func(context.Context, *emptypb.Empty, ...grpc.CallOption) (grpc.ServerStreamingClient[emptypb.Empty], error)

func (c *GRPCClient) subscribe(ctx context.Context, open streamOpener) (func() (*emptypb.Empty, error), error) {
	return pluginrpc.Subscribe(ctx, func(ctx context.Context) (grpc.ServerStreamingClient[emptypb.Empty], error) {
		return open(ctx, none)
	})
}

// Watch subscribes before it returns; the channel is closed when ctx is done
// or the stream ends (the plugin ended it or died).
func (c *GRPCClient) Watch(ctx context.Context) (<-chan struct{}, error) {
	ctx, cancel := context.WithCancel(ctx)
	recv, err := c.subscribe(ctx, c.rpc.Watch)
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
	recv, err := c.subscribe(ctx, c.rpc.Watch)
	if err != nil {
		return err
	}
	subscribed()
	return c.pump(ctx, recv, fn)
}

func (c *GRPCClient) pump(ctx context.Context, recv func() (*emptypb.Empty, error), fn func()) error {
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

func (c *GRPCClient) Handover(ctx context.Context, to string) error {
	_, err := c.rpc.Handover(ctx, &pb.IDRequest{Id: to})
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Remove(ctx context.Context, id string) error {
	_, err := c.rpc.Remove(ctx, &pb.IDRequest{Id: id})
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Snapshots(ctx context.Context) ([]SnapshotRecord, error) {
	r, err := c.rpc.Snapshots(ctx, none)
	if err != nil {
		return nil, pluginrpc.FromStatus(ctx, err)
	}
	rs := make([]SnapshotRecord, len(r.GetSnapshots()))
	for i, s := range r.GetSnapshots() {
		rs[i] = snapshotFromProto(s)
	}
	return rs, nil
}

func (c *GRPCClient) PutSnapshot(ctx context.Context, r SnapshotRecord) error {
	_, err := c.rpc.PutSnapshot(ctx, snapshotToProto(r))
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) DeleteSnapshot(ctx context.Context, id string) error {
	_, err := c.rpc.DeleteSnapshot(ctx, &pb.IDRequest{Id: id})
	return pluginrpc.FromStatus(ctx, err)
}

// Close ends the session inside the plugin; the process keeps running.
func (c *GRPCClient) Close() error {
	ctx := context.Background()
	_, err := c.rpc.Close(ctx, none)
	return pluginrpc.FromStatus(ctx, err)
}

// Supervise blocks in the plugin; cancelling ctx leaves the queue there too.
func (c *GRPCClient) Supervise(ctx context.Context, id string) error {
	_, err := c.rpc.Supervise(ctx, &pb.IDRequest{Id: id})
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) Supervisor(ctx context.Context) (string, bool, error) {
	r, err := c.rpc.Supervisor(ctx, none)
	if err != nil {
		return "", false, pluginrpc.FromStatus(ctx, err)
	}
	return r.GetId(), r.GetOk(), nil
}
