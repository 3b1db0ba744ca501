package broker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/replog"
)

// The worker's ends of the broker on a real RabbitMQ: what goes on the wire
// is what the orchestrator and older logs expect (the queue names, message
// and correlation ids, the grouped requests and answers, stream offsets).
func TestConnEnds(t *testing.T) {
	ctx, conn := connectFresh(t, broker.Topology{})
	raw := stacktest.Channel(t, stacktest.AMQPURL)

	t.Run("log: append, mark, follow from an offset", func(t *testing.T) {
		lg, err := conn.OpenLog()
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		w := &dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": "u", "password": "p"}}
		if err := lg.Append(ctx, replog.Entry{Kind: replog.EntryEpoch, Epoch: 1}); err != nil {
			t.Fatal(err)
		}
		if err := lg.Append(ctx, replog.Entry{Kind: replog.EntryWrite, Epoch: 1, Seq: 1, WriteID: "a", Write: w},
			replog.Entry{Kind: replog.EntryWrite, Epoch: 1, Seq: 2, WriteID: "b", Write: w}); err != nil {
			t.Fatal(err)
		}
		if err := lg.Mark(ctx, "n"); err != nil {
			t.Fatal(err)
		}
		// A message holding one entry object, as logs before batching do.
		old, _ := json.Marshal(replog.Entry{Kind: replog.EntryWrite, Epoch: 1, Seq: 3, WriteID: "c", Write: w})
		if err := raw.PublishWithContext(ctx, "", broker.SyncQ, false, false, amqp.Publishing{Body: old}); err != nil {
			t.Fatal(err)
		}
		rd, err := conn.FollowLog(ctx, 1, 16)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		want := []struct {
			off   int64
			kinds string
		}{{1, "write write"}, {2, "mark"}, {3, "write"}}
		for _, wm := range want {
			select {
			case m := <-rd.Messages():
				if m.Err != nil {
					t.Fatal(m.Err)
				}
				kinds := ""
				for i, e := range m.Entries {
					if i > 0 {
						kinds += " "
					}
					kinds += e.Kind
				}
				if m.Offset != wm.off || kinds != wm.kinds || m.Size == 0 {
					t.Fatalf("message at offset %d with %q (%d bytes), want offset %d with %q", m.Offset, kinds, m.Size, wm.off, wm.kinds)
				}
				if err := m.Ack(true); err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatalf("no log message at offset %d", wm.off)
			}
		}
		tail, err := conn.LogTail(ctx, time.Now().Add(-time.Minute))
		if err != nil || tail != 3 {
			t.Fatalf("log tail %d, %v; want 3", tail, err)
		}
	})

	t.Run("writes and reads: ids, reply queue, grouped requests, acks", func(t *testing.T) {
		if err := raw.PublishWithContext(ctx, "", broker.WriteQ, false, false, amqp.Publishing{
			MessageId: "m1", CorrelationId: "c1", ReplyTo: broker.ResponseQ, DeliveryMode: amqp.Persistent, Body: []byte(`{"x":1}`)}); err != nil {
			t.Fatal(err)
		}
		ws, err := conn.ConsumeWrites(ctx, "writes-test", 4)
		if err != nil {
			t.Fatal(err)
		}
		d := <-ws.Deliveries()
		if d.MessageID != "m1" || d.CorrelationID != "c1" || d.ReplyTo != broker.ResponseQ || string(d.Body) != `{"x":1}` || d.Many {
			t.Fatalf("write delivery %+v", d)
		}
		if err := d.Ack(true); err != nil {
			t.Fatal(err)
		}
		_ = ws.Cancel()
		_ = ws.Close()

		if err := raw.PublishWithContext(ctx, "", broker.ReadQ, false, false, amqp.Publishing{
			ReplyTo: broker.ResponseQ, Headers: amqp.Table{broker.RequestsHeader: int32(2)},
			Body: []byte(`[{"id":"r1","body":{"table":"users"}},{"id":"r2","body":{"table":"rides"}}]`)}); err != nil {
			t.Fatal(err)
		}
		rs, err := conn.ConsumeReads(ctx, "reads-test", 4)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		d = <-rs.Deliveries()
		reqs, err := d.Requests()
		if err != nil || !d.Many || len(reqs) != 2 || reqs[0].CorrelationID != "r1" || reqs[1].CorrelationID != "r2" {
			t.Fatalf("read delivery %+v: requests %+v, %v", d, reqs, err)
		}
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("replies: one answer plain, several in one message of answers", func(t *testing.T) {
		q, err := raw.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := raw.Consume(q.Name, "", true, true, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := conn.Replies()
		if err := r.ReplyAll(ctx, q.Name, []broker.Addressed{{CorrelationID: "a", Status: 409, Body: []byte(`{"error":"x"}`)}}); err != nil {
			t.Fatal(err)
		}
		d := <-ds
		if d.CorrelationId != "a" || broker.StatusOf(d) != 409 || string(d.Body) != `{"error":"x"}` {
			t.Fatalf("single answer %+v", d)
		}
		if err := r.ReplyAll(ctx, q.Name, []broker.Addressed{{CorrelationID: "a", Status: 200, Body: []byte(`{}`)}, {CorrelationID: "b", Status: 400, Body: []byte(`{"error":"y"}`)}}); err != nil {
			t.Fatal(err)
		}
		d = <-ds
		as, err := broker.Answers(d)
		if err != nil || d.Headers[broker.AnswersHeader] != int32(2) || len(as) != 2 || as["a"].Status != 200 || as["b"].Status != 400 {
			t.Fatalf("answers %+v (headers %v): %v", as, d.Headers, err)
		}
	})

	t.Run("a closed connection is reported", func(t *testing.T) {
		c2, err := broker.Connect(ctx, stacktest.AMQPURL, 0, broker.Topology{})
		if err != nil {
			t.Fatal(err)
		}
		closed := c2.Closed()
		_ = c2.Close()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Closed did not report the close")
		}
		if !c2.IsClosed() {
			t.Fatal("IsClosed after Close")
		}
	})
}

// connectFresh connects a worker's end to the test vhost with its queues
// deleted first (and again when the test ends), declared as topo says. The
// context ends with the test, at most 30 s later.
func connectFresh(t *testing.T, topo broker.Topology) (context.Context, *broker.Conn) {
	t.Helper()
	stacktest.RequireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := broker.Reset(ctx, stacktest.AMQPURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Reset(context.Background(), stacktest.AMQPURL) })
	conn, err := broker.Connect(ctx, stacktest.AMQPURL, 0, topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ctx, conn
}
