package worker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
)

// readers consume readQ. With a prefetch per slave, RabbitMQ spreads reads
// round-robin over the slaves.
type readers struct {
	rs       requestStream
	stopping atomic.Bool
	inflight sync.WaitGroup
	waiting  atomic.Int64 // deliveries whose reads wait for their min_seq
	once     sync.Once
	loopDone chan struct{}
}

// serveReads consumes readQ until stop. If the broker ends the consumer
// itself (readQ deleted), it reports on fatal: a slave that cannot take
// reads must not pretend to be one.
func (w *Worker) serveReads(ctx context.Context, fatal chan<- error) (*readers, error) {
	rs, err := w.brokerConn().ConsumeReads(ctx, "reads-"+w.cfg.ID, w.cfg.Prefetch)
	if err != nil {
		return nil, err
	}
	r := &readers{rs: rs, loopDone: make(chan struct{})}
	go func() {
		defer close(r.loopDone)
		in := rs.Deliveries()
		for d := range in {
			r.inflight.Add(1)
			w.serveReadBatch(ctx, r, takeBatch(d, in, w.cfg.Prefetch))
			r.inflight.Done()
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
// the rest (RabbitMQ requeues them for the other slaves). The consumer loop
// must have ended before inflight is waited on: it is what adds to it, and
// an Add racing a Wait at zero panics (seen when a slave won the election
// while a batch of reads arrived).
func (r *readers) stop() {
	r.once.Do(func() {
		r.stopping.Store(true)
		if err := r.rs.Cancel(); err != nil {
			_ = r.rs.Close() // ends the deliveries, and with them the loop
		}
		<-r.loopDone
		r.inflight.Wait()
		_ = r.rs.Close()
	})
}

// serveReadBatch answers the reads of the deliveries waiting at this
// replica (each may carry several reads the orchestrator coalesced), the
// way the master commits writes: the reads it can answer now go back in one
// message per reply queue, and the deliveries are acked at once. A read
// whose min_seq is ahead of the replica waits for it (at most MinSeqWait) on
// its own, so it never holds back the others; its delivery is acked once it
// is answered.
func (w *Worker) serveReadBatch(ctx context.Context, r *readers, ds []broker.Delivery) {
	answers := outbox{}
	var done []broker.Delivery // answered now, to ack now
	for _, d := range ds {
		reqs, err := d.Requests()
		if err != nil {
			w.log.Error("unreadable read message dropped", "error", err)
			reqs = nil
		}
		var later []pendingRead
		for _, rq := range reqs {
			q, status, v := w.parseRead(rq.Body)
			if v == nil && q.MinSeq > w.applied.get() {
				later = append(later, pendingRead{id: rq.CorrelationID, q: q})
				continue
			}
			if v == nil {
				status, v = w.readAt(ctx, q, false)
			}
			answers.add(d.ReplyTo, w.addressed(rq.CorrelationID, status, v))
		}
		if len(later) == 0 {
			done = append(done, d)
			continue
		}
		r.waiting.Add(1)
		r.inflight.Add(1)
		go func() {
			defer r.inflight.Done()
			defer r.waiting.Add(-1)
			for _, p := range later {
				status, v := w.readAt(ctx, p.q, true)
				w.answerAll(ctx, d.ReplyTo, []broker.Addressed{w.addressed(p.id, status, v)})
			}
			_ = d.Ack(false)
		}()
	}
	w.send(ctx, answers)
	switch {
	case len(done) == 0:
	case r.waiting.Load() > 0: // a multiple ack would take a waiting delivery with it
		for _, d := range done {
			_ = d.Ack(false)
		}
	default:
		_ = done[len(done)-1].Ack(true)
	}
}

// pendingRead is a read waiting for the replica to reach its min_seq.
type pendingRead struct {
	id string // correlation id
	q  dbapi.ReadRequest
}

// parseRead decodes and checks one read; on failure it returns the answer.
func (w *Worker) parseRead(body []byte) (dbapi.ReadRequest, int, any) {
	var q dbapi.ReadRequest
	if err := dbapi.Decode(body, &q); err != nil {
		return q, http.StatusBadRequest, dbapi.ErrorBody{Error: err.Error()}
	}
	if err := q.Validate(); err != nil {
		return q, http.StatusBadRequest, dbapi.ErrorBody{Error: err.Error()}
	}
	return q, 0, nil
}

// readAt runs a checked read once the replica has applied its min_seq;
// with wait it waits for that at most MinSeqWait, then answers 503.
func (w *Worker) readAt(ctx context.Context, q dbapi.ReadRequest, wait bool) (int, any) {
	seq := w.applied.get()
	if q.MinSeq > seq && wait {
		wctx, cancel := context.WithTimeout(ctx, w.cfg.MinSeqWait)
		seq, _ = w.applied.waitFor(wctx, q.MinSeq)
		cancel()
	}
	if q.MinSeq > seq {
		return http.StatusServiceUnavailable, dbapi.ErrorBody{Error: fmt.Sprintf(
			"replica %s has applied seq %d, not yet min_seq %d, after %s; try again", w.cfg.ID, seq, q.MinSeq, w.cfg.MinSeqWait)}
	}
	rows, err := w.st.Read(ctx, q)
	if err != nil {
		w.log.Error("read failed", "table", q.Table, "error", err)
		return http.StatusInternalServerError, dbapi.ErrorBody{Error: "read failed on replica " + w.cfg.ID}
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	return http.StatusOK, dbapi.ReadResult{Rows: rows, Seq: seq, Worker: w.cfg.ID}
}
