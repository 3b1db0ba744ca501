package storage

// Snapshots across the plugin boundary: Export streams the snapshot's bytes
// from the plugin to the host (wire.ServerStream), Import from the host to
// the plugin (wire.ClientStream). The bytes are opaque here: the format is
// package snapshot's, written and checked by the Storage inside the plugin.

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rideshare/dbaas/plugins/pluginhost/wire"
)

// SnapshotChunkBytes is how many snapshot bytes one stream message carries.
const SnapshotChunkBytes = 256 << 10

// maxEmptyReads bounds how often in a row a reader may return no data and no
// error before the import gives up on it (as bufio does).
const maxEmptyReads = 100

// snapshotChunk is one message of a snapshot stream. Export's last message
// carries the State instead of data. Import's last message has End set: a
// stream without it was cut short, however it ended.
type snapshotChunk struct {
	Data  []byte `json:"data,omitempty"`
	State *State `json:"state,omitempty"`
	End   bool   `json:"end,omitempty"`
}

// registerSnapshots adds Export and Import to the plugin's service.
func (s *pluginServer) registerSnapshots(svc *wire.Service) {
	wire.ServerStream(svc, "Export", func(ctx context.Context, _ *empty, send func(*snapshotChunk) error) error {
		st, err := s.get()
		if err != nil {
			return err
		}
		cw := &chunkWriter{send: send, buf: make([]byte, 0, SnapshotChunkBytes)}
		state, err := st.Export(ctx, cw)
		if err != nil {
			return err
		}
		if err := cw.flush(); err != nil {
			return err
		}
		return send(&snapshotChunk{State: &state})
	})
	wire.ClientStream(svc, "Import", func(ctx context.Context, recv func() (*snapshotChunk, error)) (State, error) {
		st, err := s.get()
		if err != nil {
			return State{}, err
		}
		return st.Import(ctx, &chunkReader{recv: recv})
	})
}

// chunkWriter sends what is written to it in SnapshotChunkBytes messages.
// The buffer is reused: a gRPC send has encoded the message when it returns.
type chunkWriter struct {
	send func(*snapshotChunk) error
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
	if err := w.send(&snapshotChunk{Data: w.buf}); err != nil {
		return fmt.Errorf("send snapshot chunk: %w", err)
	}
	w.buf = w.buf[:0]
	return nil
}

// chunkReader reads the data of the host's messages. It ends (io.EOF) only
// after the End message and the host's half-close; a stream that ends
// otherwise fails the read, so the Import it feeds changes nothing.
type chunkReader struct {
	recv func() (*snapshotChunk, error)
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
			r.data, r.end = m.Data, m.End
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
	recv, err := wire.Subscribe[snapshotChunk](ctx, c.conn, rpcMethod("Export"), empty{})
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
		case m.State != nil:
			if _, err := recv(); !errors.Is(err, io.EOF) {
				if err == nil {
					err = errors.New("a message after the state")
				}
				return State{}, fmt.Errorf("storage plugin: Export: %w", err)
			}
			return *m.State, nil
		}
		if _, err := w.Write(m.Data); err != nil {
			return State{}, fmt.Errorf("storage plugin: Export: write the snapshot: %w", err)
		}
	}
}

// Import streams the snapshot r holds into the plugin, whose Import
// commits it only when the whole stream arrived: an error of r (even with
// its last bytes) or a cancelled ctx aborts the stream and the plugin's
// transaction with it.
func (c *GRPCClient) Import(ctx context.Context, r io.Reader) (State, error) {
	buf := make([]byte, SnapshotChunkBytes)
	ended := false
	next := func() (*snapshotChunk, error) {
		if ended {
			return nil, io.EOF
		}
		n, err := fill(r, buf)
		switch {
		case err == io.EOF: //nolint:errorlint // only the reader's own clean end, never an error wrapping it
			ended = true
			return &snapshotChunk{Data: buf[:n], End: true}, nil
		case err != nil:
			return nil, fmt.Errorf("storage plugin: Import: read the snapshot: %w", err)
		}
		return &snapshotChunk{Data: buf[:n]}, nil
	}
	return wire.Upload[snapshotChunk, State](ctx, c.conn, rpcMethod("Import"), next)
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
