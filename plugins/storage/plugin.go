package storage

// This file is the go-plugin shim of the storage kind: the plugin.GRPCPlugin
// implementation, the gRPC server that holds one open Storage inside the
// plugin process (one worker = one storage plugin process), and the gRPC
// client that implements Storage on the host side. Messages are JSON (see
// plugins/pluginhost/wire); snapshots stream through transfer.go.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/pluginhost/wire"
)

// ServiceName is the gRPC service of storage plugins.
const ServiceName = "rideshare.storage.v1.Storage"

// constraintReason names ErrConstraint on the wire.
const constraintReason = "storage.constraint"

func init() {
	wire.RegisterSentinel(constraintReason, codes.AlreadyExists, ErrConstraint)
	wire.RegisterError("dbapi.invalid", codes.InvalidArgument, dbapi.IsInvalid,
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

	srv *pluginServer
}

// CloseOpen closes the database the plugin still holds, if any. The plugin
// side calls it when serving ends without the host having called Close.
func (p *Plugin) CloseOpen() error {
	if p.srv == nil {
		return nil
	}
	return p.srv.closeOpen()
}

// GRPCServer registers the storage service, wrapping p.Opener.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	base := p.Context
	if base == nil {
		base = context.Background()
	}
	p.srv = &pluginServer{open: p.Opener, base: base}
	p.srv.service().Register(s)
	return nil
}

// GRPCClient returns a *GRPCClient. ctx is done when the plugin process exits.
func (p *Plugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &GRPCClient{conn: c, process: ctx}, nil
}

// Wire messages. State, Batch, Config and dbapi.ReadRequest travel as they
// are.
type (
	applyResp struct {
		Outcomes []Outcome `json:"outcomes"`
	}
	lookupReq struct {
		WriteID string `json:"write_id"`
	}
	// lookupResp carries a refused write's record in the answer, not as an
	// error status (which would lose Found and Result): Refused is the
	// error's message, Conflict says which refusal it is (else invalid).
	lookupResp struct {
		Result   Result `json:"result"`
		Found    bool   `json:"found"`
		Refused  string `json:"refused,omitempty"`
		Conflict bool   `json:"conflict,omitempty"`
	}
	readResp struct {
		Rows []map[string]any `json:"rows"`
	}
	hashResp struct {
		Hash string `json:"hash"`
	}
	empty struct{}
)

// pluginServer holds at most one open Storage. Every call but Open fails with
// codes.FailedPrecondition while none is open; Close and Destroy release it
// (a later Open may open again).
type pluginServer struct {
	open Opener
	base context.Context

	mu   sync.Mutex
	impl Storage
}

func (s *pluginServer) get() (Storage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.impl == nil {
		return nil, wire.Errorf(codes.FailedPrecondition, "storage plugin has no open database: the host must call Open first")
	}
	return s.impl, nil
}

// take removes the open Storage (for Close and Destroy).
func (s *pluginServer) take() (Storage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.impl
	s.impl = nil
	if st == nil {
		return nil, wire.Errorf(codes.FailedPrecondition, "storage plugin has no open database")
	}
	return st, nil
}

// normalizeBatch turns the json.Number values the codec leaves in every
// write back into int64, as dbapi.Validate had made them on the host.
func normalizeBatch(b *Batch) {
	for i := range b.Writes {
		if w := b.Writes[i].Write; w != nil {
			dbapi.Normalize(w.Values)
			dbapi.Normalize(w.Where)
		}
	}
}

func (s *pluginServer) service() *wire.Service {
	svc := wire.NewService(ServiceName)
	wire.Unary(svc, "Open", func(_ context.Context, cfg *Config) (empty, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.impl != nil {
			return empty{}, wire.Errorf(codes.FailedPrecondition, "storage plugin already holds an open database")
		}
		if s.open == nil {
			return empty{}, wire.Errorf(codes.FailedPrecondition, "storage plugin has no opener")
		}
		st, err := s.open(s.base, *cfg)
		if err != nil {
			return empty{}, err
		}
		s.impl = st
		return empty{}, nil
	})
	wire.Unary(svc, "State", func(ctx context.Context, _ *empty) (State, error) {
		st, err := s.get()
		if err != nil {
			return State{}, err
		}
		return st.State(ctx)
	})
	wire.Unary(svc, "Apply", func(ctx context.Context, b *Batch) (applyResp, error) {
		st, err := s.get()
		if err != nil {
			return applyResp{}, err
		}
		normalizeBatch(b)
		outs, err := st.Apply(ctx, *b)
		return applyResp{Outcomes: outs}, err
	})
	wire.Unary(svc, "Lookup", func(ctx context.Context, r *lookupReq) (lookupResp, error) {
		st, err := s.get()
		if err != nil {
			return lookupResp{}, err
		}
		res, ok, err := st.Lookup(ctx, r.WriteID)
		resp := lookupResp{Result: res, Found: ok}
		switch {
		case err == nil:
		case ok && errors.Is(err, ErrConstraint):
			resp.Refused, resp.Conflict = err.Error(), true
		case ok && dbapi.IsInvalid(err):
			resp.Refused = err.Error()
		default:
			return lookupResp{}, err
		}
		return resp, nil
	})
	wire.Unary(svc, "Read", func(ctx context.Context, q *dbapi.ReadRequest) (readResp, error) {
		st, err := s.get()
		if err != nil {
			return readResp{}, err
		}
		dbapi.Normalize(q.Where)
		rows, err := st.Read(ctx, *q)
		return readResp{Rows: rows}, err
	})
	wire.Unary(svc, "Hash", func(ctx context.Context, _ *empty) (hashResp, error) {
		st, err := s.get()
		if err != nil {
			return hashResp{}, err
		}
		h, err := st.Hash(ctx)
		return hashResp{Hash: h}, err
	})
	s.registerSnapshots(svc)
	wire.Unary(svc, "Close", func(context.Context, *empty) (empty, error) {
		st, err := s.take()
		if err != nil {
			return empty{}, err
		}
		return empty{}, st.Close()
	})
	wire.Unary(svc, "Destroy", func(ctx context.Context, _ *empty) (empty, error) {
		st, err := s.take()
		if err != nil {
			return empty{}, err
		}
		return empty{}, st.Destroy(ctx)
	})
	return svc
}

// closeOpen closes the open Storage, if any.
func (s *pluginServer) closeOpen() error {
	st, err := s.take()
	if err != nil {
		return nil
	}
	return st.Close()
}

// GRPCClient is the host side of one storage plugin process: it implements
// Storage by calling the plugin. It does not restart a dead plugin; the
// pluginhost package wraps it to do that.
type GRPCClient struct {
	conn    *grpc.ClientConn
	process context.Context
}

var _ Storage = (*GRPCClient)(nil)

func rpcMethod(m string) string { return wire.Method(ServiceName, m) }

// ProcessDone is closed when the plugin process has exited.
func (c *GRPCClient) ProcessDone() <-chan struct{} { return c.process.Done() }

// Open opens (creating when missing) the database described by cfg inside
// the plugin. It must be the first call.
func (c *GRPCClient) Open(ctx context.Context, cfg Config) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Open"), cfg)
	return err
}

func (c *GRPCClient) State(ctx context.Context) (State, error) {
	return wire.Invoke[State](ctx, c.conn, rpcMethod("State"), empty{})
}

// Apply applies the batch inside the plugin. As an in-process Apply does, it
// stores the id generated for an insert into an AutoID table into that
// write's Values (the plugin changed only its own copy).
func (c *GRPCClient) Apply(ctx context.Context, b Batch) ([]Outcome, error) {
	r, err := wire.Invoke[applyResp](ctx, c.conn, rpcMethod("Apply"), b)
	if err != nil {
		return nil, err
	}
	if len(r.Outcomes) != len(b.Writes) {
		return nil, fmt.Errorf("storage plugin: Apply of %d writes answered %d outcomes", len(b.Writes), len(r.Outcomes))
	}
	for i, o := range r.Outcomes {
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
	return r.Outcomes, nil
}

// Lookup answers a refused write as an in-process Lookup does: found, with
// an error wrapping ErrConstraint or a *dbapi.InvalidError.
func (c *GRPCClient) Lookup(ctx context.Context, writeID string) (Result, bool, error) {
	r, err := wire.Invoke[lookupResp](ctx, c.conn, rpcMethod("Lookup"), lookupReq{WriteID: writeID})
	switch {
	case err != nil:
		return Result{}, false, err
	case r.Refused == "":
		return r.Result, r.Found, nil
	case r.Conflict:
		return r.Result, r.Found, &wire.RemoteError{Msg: r.Refused, Reason: constraintReason, Err: ErrConstraint}
	}
	return r.Result, r.Found, &dbapi.InvalidError{Msg: r.Refused}
}

// Read returns rows whose integer values are int64 again (dbapi.Normalize).
func (c *GRPCClient) Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error) {
	r, err := wire.Invoke[readResp](ctx, c.conn, rpcMethod("Read"), q)
	if err != nil {
		return nil, err
	}
	for _, row := range r.Rows {
		dbapi.Normalize(row)
	}
	return r.Rows, nil
}

func (c *GRPCClient) Hash(ctx context.Context) (string, error) {
	r, err := wire.Invoke[hashResp](ctx, c.conn, rpcMethod("Hash"), empty{})
	return r.Hash, err
}

// Close closes the database inside the plugin; the process keeps running.
func (c *GRPCClient) Close() error {
	_, err := wire.Invoke[empty](context.Background(), c.conn, rpcMethod("Close"), empty{})
	return err
}

// Destroy closes and deletes the database inside the plugin.
func (c *GRPCClient) Destroy(ctx context.Context) error {
	_, err := wire.Invoke[empty](ctx, c.conn, rpcMethod("Destroy"), empty{})
	return err
}
