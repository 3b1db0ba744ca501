package wire

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// readyKey is the header a streaming handler sends once its subscription is
// open: the client's Subscribe returns only after it, so no event between
// "subscribed" and the caller's next call is lost, and a refusal (for example
// "not configured") is returned by Subscribe itself rather than by the first
// receive.
const readyKey = "rideshare-stream-ready"

// Service builds a hand-written grpc.ServiceDesc whose handlers are closures
// (bound to one server value), so no protoc-generated code is needed. The
// descriptor is registered with a nil implementation; handlers ignore srv.
type Service struct {
	desc grpc.ServiceDesc
}

// NewService starts a service descriptor named name (e.g. "rideshare.storage.v1.Storage").
func NewService(name string) *Service {
	return &Service{desc: grpc.ServiceDesc{ServiceName: name, HandlerType: (*any)(nil)}}
}

// Register adds the service to a gRPC server.
func (s *Service) Register(gs *grpc.Server) { gs.RegisterService(&s.desc, nil) }

// Method is the full gRPC method name of method in service.
func Method(service, method string) string { return "/" + service + "/" + method }

// Unary adds a unary method. The handler's error is passed through ToStatus.
func Unary[Req, Resp any](s *Service, method string, h func(ctx context.Context, req *Req) (Resp, error)) {
	full := Method(s.desc.ServiceName, method)
	s.desc.Methods = append(s.desc.Methods, grpc.MethodDesc{
		MethodName: method,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			req := new(Req)
			if err := dec(req); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, r any) (any, error) {
				resp, err := h(ctx, r.(*Req))
				if err != nil {
					return nil, ToStatus(err)
				}
				return &resp, nil
			}
			if icpt == nil {
				return call(ctx, req)
			}
			return icpt(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, call)
		},
	})
}

// Stream adds a server-streaming method. open subscribes (its error is
// returned to the client's Subscribe); every value received from the channel
// is sent until the channel closes (the stream ends cleanly) or the client
// goes away (ctx is done: open must stop feeding the channel then).
func Stream[Req, Msg any](s *Service, method string, open func(ctx context.Context, req *Req) (<-chan Msg, error)) {
	s.desc.Streams = append(s.desc.Streams, grpc.StreamDesc{
		StreamName:    method,
		ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			req := new(Req)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			ctx := stream.Context()
			ch, err := open(ctx, req)
			if err != nil {
				return ToStatus(err)
			}
			if err := stream.SendHeader(metadata.Pairs(readyKey, "1")); err != nil {
				return err
			}
			for {
				select {
				case m, ok := <-ch:
					if !ok {
						return nil
					}
					if err := stream.SendMsg(&m); err != nil {
						return err
					}
				case <-ctx.Done():
					return ToStatus(ctx.Err())
				}
			}
		},
	})
}

// ServerStream adds a server-streaming method whose handler sends the
// messages itself and whose return ends the stream: nil cleanly, an error
// (through ToStatus) as the stream's status. Unlike Stream it fits a finite
// transfer that can fail half-way, such as a snapshot export. The client
// reads it with Subscribe, which returns once the handler has sent its first
// message or returned (a handler that fails before sending anything makes
// Subscribe itself return the error).
func ServerStream[Req, Msg any](s *Service, method string, h func(ctx context.Context, req *Req, send func(*Msg) error) error) {
	s.desc.Streams = append(s.desc.Streams, grpc.StreamDesc{
		StreamName:    method,
		ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			req := new(Req)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			ready := false
			markReady := func() error {
				if ready {
					return nil
				}
				ready = true
				return stream.SendHeader(metadata.Pairs(readyKey, "1"))
			}
			send := func(m *Msg) error {
				if err := markReady(); err != nil {
					return err
				}
				return stream.SendMsg(m)
			}
			if err := h(stream.Context(), req, send); err != nil {
				return ToStatus(err)
			}
			return markReady()
		},
	})
}

// ClientStream adds a client-streaming method, the way the host sends a
// plugin more than one message can hold (a snapshot import). h reads the
// client's messages with recv, which returns io.EOF only once the client
// has sent them all and half-closed (Upload does that only when its source
// ended cleanly); a client that gives up or goes away makes recv fail with
// another error. h's answer is sent back; its error passes through ToStatus.
//
// A stream is used rather than a begin/chunk/commit sequence of unary calls
// because gRPC already ties the transfer's life to one call: a host that
// dies or cancels ends it, and the handler sees that in recv, with no
// session for the plugin to keep and expire.
func ClientStream[Msg, Resp any](s *Service, method string, h func(ctx context.Context, recv func() (*Msg, error)) (Resp, error)) {
	s.desc.Streams = append(s.desc.Streams, grpc.StreamDesc{
		StreamName:    method,
		ClientStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			ctx := stream.Context()
			recv := func() (*Msg, error) {
				m := new(Msg)
				if err := stream.RecvMsg(m); err != nil {
					if errors.Is(err, io.EOF) {
						return nil, io.EOF
					}
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					return nil, err
				}
				return m, nil
			}
			resp, err := h(ctx, recv)
			if err != nil {
				return ToStatus(err)
			}
			return stream.SendMsg(&resp)
		},
	})
}

// Upload makes a client-streaming call (ClientStream): it sends every
// message next returns until next returns io.EOF itself, half-closes and returns
// the handler's answer. Any other error of next aborts the call — the
// stream is cancelled, so the handler's recv fails instead of ending
// cleanly — and is returned as it is. Cancelling ctx aborts the call too.
func Upload[Msg, Resp any](ctx context.Context, conn *grpc.ClientConn, method string, next func() (*Msg, error)) (Resp, error) {
	var resp Resp
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	desc := &grpc.StreamDesc{StreamName: method, ClientStreams: true}
	cs, err := conn.NewStream(sctx, desc, method, grpc.CallContentSubtype(Codec))
	if err != nil {
		return resp, FromStatus(ctx, err)
	}
	for {
		m, err := next()
		if err == io.EOF { //nolint:errorlint // next's own end: an error wrapping io.EOF aborts
			break
		}
		if err != nil {
			cancel() // before anything else: the handler must never see a clean end
			return resp, err
		}
		if err := cs.SendMsg(m); errors.Is(err, io.EOF) {
			break // the handler ended the call early: RecvMsg has its status
		} else if err != nil {
			return resp, FromStatus(ctx, err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		return resp, FromStatus(ctx, err)
	}
	if err := cs.RecvMsg(&resp); err != nil {
		return resp, FromStatus(ctx, err)
	}
	return resp, nil
}

// Invoke makes a unary call with the JSON codec and maps its error with
// FromStatus.
func Invoke[Resp any](ctx context.Context, conn *grpc.ClientConn, method string, req any) (Resp, error) {
	var resp Resp
	if err := conn.Invoke(ctx, method, req, &resp, grpc.CallContentSubtype(Codec)); err != nil {
		return resp, FromStatus(ctx, err)
	}
	return resp, nil
}

// Subscribe opens a server stream and waits until the handler has
// subscribed. The returned recv yields messages, then io.EOF when the plugin
// ended the stream cleanly, or the error (FromStatus) that ended it. The
// stream ends when ctx is done.
func Subscribe[Msg any](ctx context.Context, conn *grpc.ClientConn, method string, req any) (recv func() (Msg, error), err error) {
	desc := &grpc.StreamDesc{StreamName: method, ServerStreams: true}
	cs, err := conn.NewStream(ctx, desc, method, grpc.CallContentSubtype(Codec))
	if err != nil {
		return nil, FromStatus(ctx, err)
	}
	if err := cs.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, FromStatus(ctx, err)
	}
	if err := cs.CloseSend(); err != nil {
		return nil, FromStatus(ctx, err)
	}
	md, err := cs.Header()
	if err != nil || len(md.Get(readyKey)) == 0 {
		// The stream ended before the handler subscribed: RecvMsg has the status.
		var m Msg
		rerr := cs.RecvMsg(&m)
		if rerr == nil || errors.Is(rerr, io.EOF) {
			if err == nil {
				err = errors.New("plugin ended the stream before subscribing")
			}
			return nil, FromStatus(ctx, err)
		}
		return nil, FromStatus(ctx, rerr)
	}
	recv = func() (Msg, error) {
		var m Msg
		if err := cs.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return m, io.EOF
			}
			return m, FromStatus(ctx, err)
		}
		return m, nil
	}
	return recv, nil
}
