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
