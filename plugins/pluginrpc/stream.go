package pluginrpc

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// ReadyKey is the header a server-streaming handler sends once its
// subscription is open: the client's Subscribe returns only after it, so no
// event between "subscribed" and the caller's next call is lost, and a
// refusal (for example "not configured") is returned by Subscribe itself
// rather than by the first receive. Every .proto contract documents it.
const ReadyKey = "rideshare-stream-ready"

// MarkReady sends the ready header on a server stream.
func MarkReady(stream grpc.ServerStream) error {
	return stream.SendHeader(metadata.Pairs(ReadyKey, "1"))
}

// Pump is the body of a server-streaming handler that forwards a
// subscription: every value from ch is converted and sent until ch closes
// (the stream ends cleanly) or the client goes away. It sends the ready
// header first.
func Pump[T, M any](stream grpc.ServerStreamingServer[M], ch <-chan T, conv func(T) *M) error {
	if err := MarkReady(stream); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return nil
			}
			if err := stream.Send(conv(v)); err != nil {
				return err
			}
		case <-ctx.Done():
			return ToStatus(ctx.Err())
		}
	}
}

// Subscribe opens a server stream (open is the generated client's method
// bound to its request) and waits until the handler has subscribed (the
// ready header) or ended the call. The returned recv yields messages, then
// io.EOF when the plugin ended the stream cleanly, or the error (FromStatus)
// that ended it. The stream ends when ctx is done.
func Subscribe[M any](ctx context.Context, open func(context.Context) (grpc.ServerStreamingClient[M], error)) (recv func() (*M, error), err error) {
	cs, err := open(ctx)
	if err != nil {
		return nil, FromStatus(ctx, err)
	}
	md, err := cs.Header()
	if err != nil || len(md.Get(ReadyKey)) == 0 {
		// The stream ended before the handler subscribed: Recv has the status.
		_, rerr := cs.Recv()
		if rerr == nil || errors.Is(rerr, io.EOF) {
			if err == nil {
				err = errors.New("plugin ended the stream before subscribing")
			}
			return nil, FromStatus(ctx, err)
		}
		return nil, FromStatus(ctx, rerr)
	}
	recv = func() (*M, error) {
		m, err := cs.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, FromStatus(ctx, err)
		}
		return m, nil
	}
	return recv, nil
}
