package broker_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// A write whose publish is neither confirmed nor answered, while no other
// call to its queue is answered on the connection, is sent again on a new
// connection after UnconfirmedWait: the stuck channel of a quorum queue whose
// leader died. The old connection is frozen (the broker's bytes no longer
// reach the client, confirms and replies included), so only a new
// connection can answer; waiting for the heartbeat to notice takes 15 s.
func TestUnconfirmedWriteSentAgain(t *testing.T) {
	stacktest.RequireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	queue := fmt.Sprintf("test.unconfirmed.%d", time.Now().UnixNano())
	setup := stacktest.Channel(t, stacktest.AMQPURL)
	if _, err := setup.QueueDeclare(queue, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	answerEvery(ctx, t, setup, queue, 201)
	proxy := newFreezer(t, stacktest.AMQPURL)
	rpc, err := broker.NewRPC(ctx, proxy.url, broker.RPCOptions{ReplyQueue: queue + ".reply", UnconfirmedWait: 500 * time.Millisecond}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	if _, err := rpc.Call(ctx, queue, "w-0", []byte(`{}`), broker.CallOptions{Persistent: true}); err != nil {
		t.Fatalf("a write before the freeze: %v", err)
	}
	first := broker.Connection(rpc)
	proxy.freeze()

	// Well under the heartbeat's 15 s, well over UnconfirmedWait.
	short, stop := context.WithTimeout(ctx, 6*time.Second)
	defer stop()
	began := time.Now()
	a, err := rpc.Call(short, queue, "w-1", []byte(`{}`), broker.CallOptions{Persistent: true})
	t.Logf("answered after %s", time.Since(began).Round(time.Millisecond))
	if err != nil || a.Status != 201 {
		t.Fatalf("a write on a frozen connection: %+v, %v; want it sent again on a new one and answered 201", a, err)
	}
	if broker.Connection(rpc) == first {
		t.Fatal("answered on the frozen connection")
	}
}

// freezer is a TCP proxy to a broker whose freeze stops the broker's bytes
// to the connections open then (not to later ones), as a connection whose
// channel the broker holds.
type freezer struct {
	url    string
	target string
	mu     sync.Mutex
	frozen []*atomic.Bool // one a connection: set, its broker side is held
}

func newFreezer(t *testing.T, amqpURL string) *freezer {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &freezer{target: u.Host}
	u.Host = ln.Addr().String()
	f.url = u.String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *freezer) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", f.target)
	if err != nil {
		return
	}
	defer server.Close()
	frozen := new(atomic.Bool)
	f.mu.Lock()
	f.frozen = append(f.frozen, frozen)
	f.mu.Unlock()
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
		client.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if frozen.Load() {
			// Held: nothing more reaches the client; the read loop only
			// notices the connection's end.
			if err != nil {
				return
			}
			continue
		}
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, frozen := range f.frozen {
		frozen.Store(true)
	}
}
