package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
)

// errNoBroker: the broker did not answer within the time a master may keep
// its lead without it.
var errNoBroker = errors.New("no broker connection")

// redialEvery is the pause between attempts to set a connection up after
// the broker answered but refused the setup (a stream is briefly "down or
// inaccessible" while a restarted RabbitMQ recovers it).
const redialEvery = 250 * time.Millisecond

// connect dials the broker, declares the replication log and opens the
// reply channel, trying again until it all works, ctx is done, or within
// (when positive) has passed (errNoBroker). The connection becomes the
// worker's.
func (w *Worker) connect(ctx context.Context, within time.Duration) (*broker.Conn, error) {
	dctx := ctx
	if within > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, within)
		defer cancel()
	}
	for {
		conn, err := w.setUp(dctx)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if dctx.Err() != nil {
			return nil, fmt.Errorf("%w within %s: %w", errNoBroker, within, err)
		}
		w.log.Warn("set up the broker connection; trying again", "error", err)
		select {
		case <-dctx.Done():
		case <-time.After(redialEvery):
		}
	}
}

// setUp is one attempt of connect.
func (w *Worker) setUp(ctx context.Context) (*broker.Conn, error) {
	connect := broker.Connect
	if w.connectedOnce.Load() {
		connect = broker.Reconnect // declarations checked already: none waited for
	}
	conn, err := connect(ctx, w.cfg.AMQPURL, w.cfg.Heartbeat, w.cfg.Topology())
	if err != nil {
		return nil, err
	}
	w.connectedOnce.Store(true)
	w.replyMu.Lock() // readers of the last term may still be answering
	w.replies = conn.Replies()
	w.replyMu.Unlock()
	w.conn.Store(conn)
	return conn, nil
}

// brokerLost says whether a term ended because its broker connection
// closed. The error that ended it (a consumer or channel closing) can reach
// the worker just before the connection's close notice, so it waits a
// moment for that notice.
func brokerLost(conn *broker.Conn, closed <-chan error) bool {
	select {
	case <-closed:
		return true
	case <-time.After(200 * time.Millisecond):
		return conn.IsClosed()
	}
}
