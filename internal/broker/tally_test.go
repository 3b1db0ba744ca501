package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
)

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
