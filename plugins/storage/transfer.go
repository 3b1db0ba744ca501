package storage

// Snapshots across the plugin boundary: Export streams the snapshot's bytes
// from the plugin to the host (a server stream), Import from the host to
// the plugin (a client stream). The bytes are opaque here: the format is
// package snapshot's, written and checked by the Storage inside the plugin.

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/rideshare/dbaas/plugins/pluginrpc"
	pb "github.com/rideshare/dbaas/plugins/storage/proto"
)

// SnapshotChunkBytes is how many snapshot bytes one stream message carries.
const SnapshotChunkBytes = 256 << 10

// maxEmptyReads bounds how often in a row a reader may return no data and no
// error before the import gives up on it (as bufio does).
const maxEmptyReads = 100

// Export is the server stream of a snapshot: chunks of data, then one
// message with the State. The ready header goes with the first message, or
// the call ends with the error before it (so the client's Subscribe returns
// the error itself).
func (s *server) Export(_ *emptypb.Empty, stream grpc.ServerStreamingServer[pb.SnapshotChunk]) error {
	st, err := s.st.Get()
	if err != nil {
		return err
	}
	ready := false
	send := func(m *pb.SnapshotChunk) error {
		if !ready {
			ready = true
			if err := pluginrpc.MarkReady(stream); err != nil {
				return err
			}
		}
		return stream.Send(m)
	}
	cw := &chunkWriter{send: send, buf: make([]byte, 0, SnapshotChunkBytes)}
	state, err := st.Export(stream.Context(), cw)
	if err == nil {
		err = cw.flush()
	}
	if err == nil {
		err = send(&pb.SnapshotChunk{State: stateToProto(state)})
	}
	return pluginrpc.ToStatus(err)
}

// Import is the client stream of a snapshot: the host's chunks, the last
// with End set, then its half-close.
func (s *server) Import(stream grpc.ClientStreamingServer[pb.SnapshotChunk, pb.State]) error {
	st, err := s.st.Get()
	if err != nil {
		return err
	}
	ctx := stream.Context()
	recv := func() (*pb.SnapshotChunk, error) {
		m, err := stream.Recv()
		if err != nil {
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
	state, err := st.Import(ctx, &chunkReader{recv: recv})
	if err != nil {
		return pluginrpc.ToStatus(err)
	}
	return stream.SendAndClose(stateToProto(state))
}

// chunkWriter sends what is written to it in SnapshotChunkBytes messages.
// The buffer is reused: a gRPC send has encoded the message when it returns.
type chunkWriter struct {
	send func(*pb.SnapshotChunk) error
	buf  []byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if err := w.send(&pb.SnapshotChunk{Data: w.buf}); err != nil {
		return fmt.Errorf("send snapshot chunk: %w", err)
	}
	w.buf = w.buf[:0]
	return nil
}

// chunkReader reads the data of the host's messages. It ends (io.EOF) only
// after the End message and the host's half-close; a stream that ends
// otherwise fails the read, so the Import it feeds changes nothing.
type chunkReader struct {
	recv func() (*pb.SnapshotChunk, error)
	data []byte
	end  bool
	err  error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		m, err := r.recv()
		switch {
		case errors.Is(err, io.EOF) && r.end:
			r.err = io.EOF
		case errors.Is(err, io.EOF):
			r.err = fmt.Errorf("import stream: the host ended it without its end mark: %w", io.ErrUnexpectedEOF)
		case err != nil:
			r.err = fmt.Errorf("import stream: %w", err)
		case r.end:
			r.err = errors.New("import stream: a message after the end mark")
		default:
			r.data, r.end = m.GetData(), m.GetEnd()
		}
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// Export streams the snapshot from the plugin into w. The plugin's
// Export runs inside one read transaction; it ends when ctx is done.
func (c *GRPCClient) Export(ctx context.Context, w io.Writer) (State, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if w fails
	recv, err := pluginrpc.Subscribe(ctx, func(ctx context.Context) (grpc.ServerStreamingClient[pb.SnapshotChunk], error) {
		return c.rpc.Export(ctx, none)
	})
	if err != nil {
		return State{}, err
	}
	for {
		m, err := recv()
		switch {
		case errors.Is(err, io.EOF):
			return State{}, errors.New("storage plugin: Export: the stream ended without the snapshot's state: truncated")
		case err != nil:
			return State{}, err
		case m.GetState() != nil:
			if _, err := recv(); !errors.Is(err, io.EOF) {
				if err == nil {
					err = errors.New("a message after the state")
				}
				return State{}, fmt.Errorf("storage plugin: Export: %w", err)
			}
			return stateFromProto(m.GetState()), nil
		}
		if _, err := w.Write(m.GetData()); err != nil {
			return State{}, fmt.Errorf("storage plugin: Export: write the snapshot: %w", err)
		}
	}
}

// Import streams the snapshot r holds into the plugin, whose Import
// commits it only when the whole stream arrived: an error of r (even with
// its last bytes) or a cancelled ctx aborts the stream and the plugin's
// transaction with it (the stream is cancelled, so the plugin's receive
// fails instead of ending cleanly).
func (c *GRPCClient) Import(ctx context.Context, r io.Reader) (State, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := c.rpc.Import(sctx)
	if err != nil {
		return State{}, pluginrpc.FromStatus(ctx, err)
	}
	buf := make([]byte, SnapshotChunkBytes)
	for ended := false; !ended; {
		n, err := fill(r, buf)
		switch {
		case err == io.EOF: //nolint:errorlint // only the reader's own clean end, never an error wrapping it
			ended = true
		case err != nil:
			cancel() // before anything else: the plugin must never see a clean end
			return State{}, fmt.Errorf("storage plugin: Import: read the snapshot: %w", err)
		}
		if err := cs.Send(&pb.SnapshotChunk{Data: buf[:n], End: ended}); errors.Is(err, io.EOF) {
			break // the plugin ended the call early: CloseAndRecv has its status
		} else if err != nil {
			return State{}, pluginrpc.FromStatus(ctx, err)
		}
	}
	st, err := cs.CloseAndRecv()
	if err != nil {
		return State{}, pluginrpc.FromStatus(ctx, err)
	}
	return stateFromProto(st), nil
}

// fill reads into buf until it is full or r returns an error, which it
// returns as it is: unlike io.ReadFull it never turns a short read at the
// end into io.ErrUnexpectedEOF, nor a reader's io.ErrUnexpectedEOF into an
// end.
func fill(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}
