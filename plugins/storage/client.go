package storage

// The host side of the storage kind: GRPCClient implements Storage by
// calling a plugin process through the generated client of
// proto/storage.proto.

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/pluginrpc"
	pb "github.com/rideshare/dbaas/plugins/storage/proto"
)

// GRPCClient is the host side of one storage plugin process: it implements
// Storage by calling the plugin. It does not restart a dead plugin; the
// pluginhost package wraps it to do that.
type GRPCClient struct {
	rpc     pb.StorageClient
	process context.Context
}

var _ Storage = (*GRPCClient)(nil)

var none = &emptypb.Empty{}

// ProcessDone is closed when the plugin process has exited.
func (c *GRPCClient) ProcessDone() <-chan struct{} { return c.process.Done() }

// Open opens (creating when missing) the database described by cfg inside
// the plugin. It must be the first call.
func (c *GRPCClient) Open(ctx context.Context, cfg Config) error {
	_, err := c.rpc.Open(ctx, configToProto(cfg))
	return pluginrpc.FromStatus(ctx, err)
}

func (c *GRPCClient) State(ctx context.Context) (State, error) {
	s, err := c.rpc.State(ctx, none)
	if err != nil {
		return State{}, pluginrpc.FromStatus(ctx, err)
	}
	return stateFromProto(s), nil
}

// Apply applies the batch inside the plugin. As an in-process Apply does, it
// stores the id generated for an insert into an AutoID table into that
// write's Values (the plugin changed only its own copy).
func (c *GRPCClient) Apply(ctx context.Context, b Batch) ([]Outcome, error) {
	pbatch, err := batchToProto(b)
	if err != nil {
		return nil, err
	}
	r, err := c.rpc.Apply(ctx, pbatch)
	if err != nil {
		return nil, pluginrpc.FromStatus(ctx, err)
	}
	if len(r.GetOutcomes()) != len(b.Writes) {
		return nil, fmt.Errorf("storage plugin: Apply of %d writes answered %d outcomes", len(b.Writes), len(r.GetOutcomes()))
	}
	outs := make([]Outcome, len(r.GetOutcomes()))
	for i, po := range r.GetOutcomes() {
		o := outcomeFromProto(po)
		outs[i] = o
		w := b.Writes[i].Write
		if o.ID == 0 || o.Redelivered || o.Invalid != "" || w == nil || w.Op != dbapi.OpInsert {
			continue
		}
		if t, ok := dbapi.LookupTable(w.Table); ok && t.AutoID != "" {
			if _, given := w.Values[t.AutoID]; !given {
				if w.Values == nil {
					w.Values = map[string]any{}
				}
				w.Values[t.AutoID] = o.ID
			}
		}
	}
	return outs, nil
}

// Lookup answers a refused write as an in-process Lookup does: found, with
// an error wrapping ErrConstraint or a *dbapi.InvalidError.
func (c *GRPCClient) Lookup(ctx context.Context, writeID string) (Result, bool, error) {
	r, err := c.rpc.Lookup(ctx, &pb.LookupRequest{WriteId: writeID})
	if err != nil {
		return Result{}, false, pluginrpc.FromStatus(ctx, err)
	}
	res := resultFromProto(r.GetResult())
	switch {
	case r.GetRefused() == "":
		return res, r.GetFound(), nil
	case r.GetConflict():
		return res, r.GetFound(), &pluginrpc.RemoteError{Msg: r.GetRefused(), Reason: constraintReason, Err: ErrConstraint}
	}
	return res, r.GetFound(), &dbapi.InvalidError{Msg: r.GetRefused()}
}

// Read returns rows whose values have their Go types (int64, string, nil).
func (c *GRPCClient) Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error) {
	pq, err := readToProto(q)
	if err != nil {
		return nil, err
	}
	r, err := c.rpc.Read(ctx, pq)
	if err != nil {
		return nil, pluginrpc.FromStatus(ctx, err)
	}
	return rowsFromProto(r)
}

func (c *GRPCClient) Hash(ctx context.Context) (string, error) {
	r, err := c.rpc.Hash(ctx, none)
	if err != nil {
		return "", pluginrpc.FromStatus(ctx, err)
	}
	return r.GetHash(), nil
}

// Close closes the database inside the plugin; the process keeps running.
func (c *GRPCClient) Close() error {
	ctx := context.Background()
	_, err := c.rpc.Close(ctx, none)
	return pluginrpc.FromStatus(ctx, err)
}

// Destroy closes and deletes the database inside the plugin.
func (c *GRPCClient) Destroy(ctx context.Context) error {
	_, err := c.rpc.Destroy(ctx, none)
	return pluginrpc.FromStatus(ctx, err)
}
