package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/broker"
	"github.com/rideshare/dbaas/dbapi"
)

// readers consume readQ. With a prefetch per slave, RabbitMQ spreads reads
// round-robin over the slaves.
type readers struct {
	ch       *amqp.Channel
	tag      string
	stopping atomic.Bool
	inflight sync.WaitGroup
	once     sync.Once
	loopDone chan struct{}
}

// serveReads consumes readQ until stop. If the broker ends the consumer
// itself (readQ deleted), it reports on fatal: a slave that cannot take
// reads must not pretend to be one.
func (w *Worker) serveReads(ctx context.Context, fatal chan<- error) (*readers, error) {
	ch, err := w.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open read channel: %w", err)
	}
	if err := ch.Qos(w.cfg.Prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set read prefetch: %w", err)
	}
	r := &readers{ch: ch, tag: "reads-" + w.cfg.ID, loopDone: make(chan struct{})}
	ds, err := ch.Consume(broker.ReadQ, r.tag, false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", broker.ReadQ, err)
	}
	go func() {
		defer close(r.loopDone)
		for d := range ds {
			r.inflight.Add(1)
			go func(d amqp.Delivery) {
				defer r.inflight.Done()
				w.serveRead(ctx, d)
			}(d)
		}
		if !r.stopping.Load() && ctx.Err() == nil {
			select {
			case fatal <- fmt.Errorf("the broker ended the %s consumer", broker.ReadQ):
			default:
			}
		}
	}()
	return r, nil
}

// stop takes no more reads, lets the ones in flight finish, and releases
// the rest (RabbitMQ requeues them for the other slaves).
func (r *readers) stop() {
	r.once.Do(func() {
		r.stopping.Store(true)
		_ = r.ch.Cancel(r.tag, false)
		r.inflight.Wait()
		r.ch.Close()
		<-r.loopDone
	})
}

func (w *Worker) serveRead(ctx context.Context, d amqp.Delivery) {
	defer d.Ack(false)
	var q dbapi.ReadRequest
	if err := dbapi.Decode(d.Body, &q); err != nil {
		w.answer(ctx, d, http.StatusBadRequest, dbapi.ErrorBody{Error: err.Error()})
		return
	}
	if err := q.Validate(); err != nil {
		w.answer(ctx, d, http.StatusBadRequest, dbapi.ErrorBody{Error: err.Error()})
		return
	}
	seq := w.applied.get()
	if q.MinSeq > seq {
		wctx, cancel := context.WithTimeout(ctx, w.cfg.MinSeqWait)
		var ok bool
		seq, ok = w.applied.waitFor(wctx, q.MinSeq)
		cancel()
		if !ok {
			w.answer(ctx, d, http.StatusServiceUnavailable, dbapi.ErrorBody{Error: fmt.Sprintf(
				"replica %s has applied seq %d, not yet min_seq %d, after %s; try again", w.cfg.ID, seq, q.MinSeq, w.cfg.MinSeqWait)})
			return
		}
	}
	rows, err := w.st.Read(ctx, q)
	if err != nil {
		w.log.Error("read failed", "table", q.Table, "error", err)
		w.answer(ctx, d, http.StatusInternalServerError, dbapi.ErrorBody{Error: "read failed on replica " + w.cfg.ID})
		return
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	w.answer(ctx, d, http.StatusOK, dbapi.ReadResult{Rows: rows, Seq: seq, Worker: w.cfg.ID})
}
