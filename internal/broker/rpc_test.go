package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// A call whose connection is lost before its answer came is sent again, with
// the same ids, on the next connection, and gets its answer there: the caller
// sees no error (as when the client's broker node dies).
func TestCallSurvivesLostConnection(t *testing.T) {
	stacktest.RequireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	queue := fmt.Sprintf("test.resend.%d", time.Now().UnixNano())
	setup := stacktest.Channel(t, stacktest.AMQPURL)
	if _, err := setup.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := setup.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	rpc, err := broker.NewRPC(ctx, stacktest.AMQPURL, broker.RPCOptions{ReplyQueue: queue + ".reply"}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()

	type result struct {
		ans broker.Answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := rpc.Call(ctx, queue, "w-1", []byte(`{}`), broker.CallOptions{Persistent: true})
		done <- result{a, err}
	}()
	var first string
	select {
	case d := <-ds:
		first = d.MessageId
		_ = d.Ack(false)
	case <-ctx.Done():
		t.Fatal("the call never reached its queue")
	}
	// The first copy goes unanswered: its connection is lost.
	broker.DropConnection(rpc)
	select {
	case d := <-ds:
		if d.MessageId != first || d.CorrelationId != "w-1" {
			t.Fatalf("sent again with message id %q, correlation id %q; want %q and w-1", d.MessageId, d.CorrelationId, first)
		}
		if err := broker.Reply(ctx, setup, d, 201, []byte(`{"ok":true}`)); err != nil {
			t.Fatal(err)
		}
		_ = d.Ack(false)
	case r := <-done:
		t.Fatalf("call ended before it was sent again: %+v", r)
	case <-ctx.Done():
		t.Fatal("the call was not sent again after its connection was lost")
	}
	r := <-done
	if r.err != nil || r.ans.Status != 201 {
		t.Fatalf("call across a lost connection = %+v; want the answer 201", r)
	}
}

// A write the broker refuses (a negative publisher confirm) is sent again on
// a new connection until the broker takes it, and the caller gets the
// answer: a quorum queue whose leader's node died refuses what the channels
// that knew the old leader send.
func TestCallResentAfterRefusal(t *testing.T) {
	stacktest.RequireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	queue := fmt.Sprintf("test.refused.%d", time.Now().UnixNano())
	setup := stacktest.Channel(t, stacktest.AMQPURL)
	// A queue that refuses every message.
	full := amqp.Table{"x-max-length": int32(0), "x-overflow": "reject-publish"}
	if _, err := setup.QueueDeclare(queue, false, false, false, false, full); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = stacktest.Channel(t, stacktest.AMQPURL).QueueDelete(queue, false, false, false) })
	rpc, err := broker.NewRPC(ctx, stacktest.AMQPURL, broker.RPCOptions{ReplyQueue: queue + ".reply"}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	done := make(chan error, 1)
	go func() {
		a, err := rpc.Call(ctx, queue, "w-2", []byte(`{}`), broker.CallOptions{Persistent: true})
		if err == nil && a.Status != 201 {
			err = fmt.Errorf("answer %d, want 201", a.Status)
		}
		done <- err
	}()
	time.Sleep(time.Second) // several refusals
	select {
	case err := <-done:
		t.Fatalf("the refused call ended (%v) while the broker still refused it", err)
	default:
	}
	// The queue takes messages again: the call goes through.
	if _, err := setup.QueueDelete(queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.QueueDeclare(queue, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := setup.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ds:
		if err := broker.Reply(ctx, setup, d, 201, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		_ = d.Ack(false)
	case err := <-done:
		t.Fatalf("call ended before the broker took it: %v", err)
	case <-ctx.Done():
		t.Fatal("the refused call was not sent again")
	}
	if err := <-done; err != nil {
		t.Fatalf("call refused, then taken: %v", err)
	}
}

// A call that times out while no call to its queue was answered on its
// connection replaces the connection, even while calls to another queue are
// answered on it (RabbitMQ 3.10 can drop every unconfirmed message of a
// channel opened while a quorum queue changed leaders: the reads, while the
// confirmed writes go through).
func TestSilentConnectionReplaced(t *testing.T) {
	stacktest.RequireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	queue := fmt.Sprintf("test.silent.%d", time.Now().UnixNano())
	answering := queue + ".answering"
	setup := stacktest.Channel(t, stacktest.AMQPURL)
	for _, q := range []string{queue, answering} {
		if _, err := setup.QueueDeclare(q, false, true, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	answerEvery(ctx, t, setup, answering, 200)
	rpc, err := broker.NewRPC(ctx, stacktest.AMQPURL, broker.RPCOptions{ReplyQueue: queue + ".reply"}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	first := broker.Connection(rpc)
	silent := make(chan error, 1)
	go func() {
		short, stop := context.WithTimeout(ctx, 800*time.Millisecond)
		defer stop()
		_, err := rpc.Call(short, queue, "r-1", []byte(`{}`), broker.CallOptions{})
		silent <- err
	}()
	time.Sleep(100 * time.Millisecond)
	// While that call waits, the other queue answers on the same connection.
	if _, err := rpc.Call(ctx, answering, "a-1", []byte(`{}`), broker.CallOptions{}); err != nil {
		t.Fatalf("call to the answering queue: %v", err)
	}
	if broker.Connection(rpc) != first {
		t.Fatal("the connection was replaced although nothing timed out yet")
	}
	if err := <-silent; !errors.Is(err, broker.ErrTimeout) {
		t.Fatalf("unanswered call: %v, want ErrTimeout", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c := broker.Connection(rpc); c != nil && c != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection on which no call to the queue was answered was not replaced")
		}
	}
}

// answerEvery answers status to every request on queue, on ch, until the
// channel closes with the test.
func answerEvery(ctx context.Context, t *testing.T, ch *amqp.Channel, queue string, status int) {
	t.Helper()
	ds, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for d := range ds {
			_ = broker.Reply(ctx, ch, d, status, []byte(`{}`))
		}
	}()
}

// A notice told to another client's reply queue reaches that client's
// OnNotice with its kind and body, and is never taken for an answer; a
// notice with no kind is refused before it is sent.
func TestTellReachesOnNotice(t *testing.T) {
	stacktest.RequireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	queue := fmt.Sprintf("test.tell.%d", time.Now().UnixNano())
	type notice struct{ kind, body string }
	got := make(chan notice, 4)
	to, err := broker.NewRPC(ctx, stacktest.AMQPURL, broker.RPCOptions{ReplyQueue: queue + ".to",
		OnNotice: func(kind string, body []byte) { got <- notice{kind, string(body)} }}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	from, err := broker.NewRPC(ctx, stacktest.AMQPURL, broker.RPCOptions{ReplyQueue: queue + ".from"}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()

	if err := from.Tell(ctx, queue+".to", "", []byte(`{}`)); err == nil {
		t.Fatal("a notice with no kind was sent")
	}
	if err := from.Tell(ctx, queue+".to", broker.KindReadTally, []byte(`{"from":"a","reads":3}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n.kind != broker.KindReadTally || n.body != `{"from":"a","reads":3}` {
			t.Fatalf("notice %+v", n)
		}
	case <-ctx.Done():
		t.Fatal("the notice never came")
	}
	select {
	case n := <-got:
		t.Fatalf("a second notice %+v: the one with no kind was sent after all", n)
	case <-time.After(300 * time.Millisecond):
	}
}
