package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/stacktest"
)

func TestSplitURLs(t *testing.T) {
	for _, c := range []struct {
		list string
		want int
		bad  string // in the error
	}{
		{"amqp://a/", 1, ""},
		{"amqp://u:p@a:5672/v, amqp://u:p@b:5672/v ,amqp://u:p@c:5672/v", 3, ""},
		{"", 0, "URL 1"},
		{"amqp://a/,,amqp://c/", 0, "URL 2"},
		{"amqp://a/,http://b/", 0, "URL 2"},
	} {
		urls, err := broker.SplitURLs(c.list)
		if c.bad == "" {
			if err != nil || len(urls) != c.want {
				t.Errorf("SplitURLs(%q) = %v, %v; want %d URLs", c.list, urls, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.bad) {
			t.Errorf("SplitURLs(%q) error = %v; want one naming %s", c.list, err, c.bad)
		}
	}
	// A password never appears in the error.
	if _, err := broker.SplitURLs("amqp://u:secret@a/,"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v: want one without the password", err)
	}
}

// A list whose nodes are down but one still connects, and a list whose
// every node is down fails when ctx ends, naming the last error.
func TestDialList(t *testing.T) {
	stacktest.RequireServices(t)
	dead := "amqp://guest:guest@127.0.0.1:1/"
	list := dead + "," + stacktest.AMQPURL + "," + dead
	for i := 0; i < 4; i++ { // from wherever the cursor starts
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		conn, err := broker.Dial(ctx, list, 0)
		cancel()
		if err != nil {
			t.Fatalf("dial %d of a list with one live node: %v", i, err)
		}
		conn.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := broker.Dial(ctx, dead+","+dead, 0)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("dial of dead nodes: %v; want the deadline and the last node named", err)
	}
}

// A node that accepts the connection and then says nothing (as a killed
// container's name, or a paused node, holds a dial) does not hold up the
// next node of the list: each dial connects to the live one well within
// dialTimeout (5 s), though after the first the cursor puts the silent
// node first.
func TestDialPassesASilentNode(t *testing.T) {
	stacktest.RequireServices(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	list := "amqp://guest:guest@" + ln.Addr().String() + "/," + stacktest.AMQPURL
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		began := time.Now()
		conn, err := broker.Dial(ctx, list, 0)
		took := time.Since(began)
		cancel()
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conn.Close()
		if took > 3*time.Second {
			t.Fatalf("dial %d took %v: the silent node held it up", i, took)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(held) == 0 {
		t.Fatal("no dial tried the silent node first: the test proved nothing")
	}
}

// Quorum request queues carry writes and expiring reads as classic ones do,
// and a process declaring the other type is refused with an explanation.
func TestQuorumQueues(t *testing.T) {
	quorum := broker.Topology{Requests: broker.QueueQuorum}
	ctx, _ := connectFresh(t, quorum)

	raw := stacktest.Channel(t, stacktest.AMQPURL)
	if err := quorum.DeclareReplies(raw); err != nil {
		t.Fatal(err)
	}
	// An expired read is dropped; a live one arrives.
	for _, m := range []amqp.Publishing{{Body: []byte("stale"), Expiration: "1"}, {Body: []byte("fresh"), Expiration: "60000"}} {
		if err := raw.PublishWithContext(ctx, "", broker.ReadQ, false, false, m); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	ds, err := raw.Consume(broker.ReadQ, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ds:
		if string(d.Body) != "fresh" {
			t.Fatalf("first read taken from a quorum readQ = %q; want the unexpired one", d.Body)
		}
	case <-ctx.Done():
		t.Fatal("no read came out of a quorum readQ")
	}

	other := stacktest.Channel(t, stacktest.AMQPURL)
	err = (broker.Topology{Requests: broker.QueueClassic}).Declare(other)
	if err == nil || !strings.Contains(err.Error(), "amqp_queue_type") {
		t.Fatalf("classic declaration over quorum queues: %v; want a refusal naming amqp_queue_type", err)
	}
}

func TestParseQueueType(t *testing.T) {
	for in, want := range map[string]broker.QueueType{"": broker.DefaultQueueType, "classic": broker.QueueClassic, "quorum": broker.QueueQuorum} {
		if got, err := broker.ParseQueueType(in); err != nil || got != want {
			t.Errorf("ParseQueueType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := broker.ParseQueueType("stream"); err == nil {
		t.Error("ParseQueueType(stream): want an error")
	}
}

func TestNodeUnready(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("follow syncQ: %w", &amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - stream queue 'syncQ' in vhost '/' does not have a replica on the local node"}), true},
		{&amqp.Error{Code: amqp.NotFound, Reason: "NOT_FOUND - home node 'rabbit@rabbitmq1' of durable queue 'responseQ' in vhost '/' is down or inaccessible"}, true},
		{&amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'"}, false},
		{&amqp.Error{Code: amqp.NotFound, Reason: "NOT_FOUND - no queue 'x'"}, false},
		{errors.New("down or inaccessible replica"), false},
		{nil, false},
	} {
		if got := broker.NodeUnready(c.err); got != c.want {
			t.Errorf("NodeUnready(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// Reconnect declares the shared queues without waiting for the broker: a
// queue the broker lost is there again, and a declaration it refuses (here
// the other queue type) costs the connection nothing, where Connect fails.
func TestReconnectDeclaresWithoutWaiting(t *testing.T) {
	quorum := broker.Topology{Requests: broker.QueueQuorum}
	ctx, _ := connectFresh(t, quorum)
	raw := stacktest.Channel(t, stacktest.AMQPURL)
	if _, err := raw.QueueDelete(broker.SyncQ, false, false, false); err != nil {
		t.Fatal(err)
	}
	again, err := broker.Reconnect(ctx, stacktest.AMQPURL, 0, quorum)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := stacktest.Channel(t, stacktest.AMQPURL).QueueDeclarePassive(broker.SyncQ, true, false, false, false, nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Reconnect did not declare the lost syncQ again")
		}
	}
	conn, err := broker.Reconnect(ctx, stacktest.AMQPURL, 0, broker.Topology{Requests: broker.QueueClassic})
	if err != nil {
		t.Fatalf("reconnect with a declaration the broker refuses: %v", err)
	}
	defer conn.Close()
	// The connection serves: an answer sent on it arrives.
	replyQ := fmt.Sprintf("test.reconnect.%d", time.Now().UnixNano())
	if _, err := raw.QueueDeclare(replyQ, false, true, true, false, nil); err != nil {
		t.Fatal(err)
	}
	answers, err := raw.Consume(replyQ, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the refusal, if it were to close the connection, is in
	if err := conn.Replies().ReplyAll(ctx, replyQ, []broker.Addressed{{CorrelationID: "c-1", Status: 200, Body: []byte(`{}`)}}); err != nil {
		t.Fatalf("answer on the reconnected connection: %v", err)
	}
	select {
	case d := <-answers:
		if d.CorrelationId != "c-1" {
			t.Fatalf("answer with correlation id %q, want c-1", d.CorrelationId)
		}
	case <-ctx.Done():
		t.Fatal("the answer sent on the reconnected connection did not arrive")
	}
	if conn.IsClosed() {
		t.Fatal("the refused declaration closed the connection")
	}
	if c, err := broker.Connect(ctx, stacktest.AMQPURL, 0, broker.Topology{Requests: broker.QueueClassic}); err == nil {
		c.Close()
		t.Fatal("Connect with the other queue type was not refused")
	}
}
