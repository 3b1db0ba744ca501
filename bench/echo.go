package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/broker"
)

// The floor: a bare AMQP echo RPC on the same broker, built the way the data
// path is built, so that the difference between it and a DB API call is what
// the orchestrator, the HTTP hop and the worker add.
//
//   - The echo server stands in for a worker: its own connection, a consumer
//     with the worker's prefetch and manual acks, one goroutine per delivery,
//     the reply published on one shared channel under a mutex to d.ReplyTo
//     with d.CorrelationId, then the ack (worker.serveRead / worker.reply).
//   - The echo client stands in for broker.RPC: one channel in confirm mode,
//     PublishWithDeferredConfirm with the same properties (persistent and
//     confirmed for the write-like floor, an expiration for the read-like
//     one), replies consumed with auto-ack from a reply queue and handed to
//     the caller by correlation id.
//
// broker.RPC itself is not reused: it always sets ReplyTo to the fixed
// responseQ and consumes it, so pointed at the shared broker it would compete
// with the orchestrator (and with any other stack on that broker) for replies.
// The echo client uses its own exclusive reply queue instead.

// echoServer answers every message on its queue with the same body.
type echoServer struct {
	conn  *amqp.Connection
	queue string
	done  chan struct{}
}

func startEcho(ctx context.Context, url, queue string, prefetch int) (*echoServer, error) {
	conn, err := broker.Dial(ctx, url, 0)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*echoServer, error) {
		conn.Close()
		return nil, fmt.Errorf("echo server: %s: %w", what, err)
	}
	setup, err := conn.Channel()
	if err != nil {
		return fail("open channel", err)
	}
	// Durable like writeQ (so that persistent messages of the confirm floor
	// are written to disk as writes are), auto-deleted when the consumer goes.
	if _, err := setup.QueueDeclare(queue, true, true, false, false, nil); err != nil {
		return fail("declare "+queue, err)
	}
	setup.Close()
	replyCh, err := conn.Channel()
	if err != nil {
		return fail("open reply channel", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open consume channel", err)
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fail("set prefetch", err)
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return fail("consume "+queue, err)
	}
	s := &echoServer{conn: conn, queue: queue, done: make(chan struct{})}
	var mu sync.Mutex
	go func() {
		defer close(s.done)
		var inflight sync.WaitGroup
		for d := range ds {
			inflight.Add(1)
			go func(d amqp.Delivery) {
				defer inflight.Done()
				defer d.Ack(false)
				if d.ReplyTo == "" {
					return
				}
				mu.Lock()
				_ = replyCh.PublishWithContext(context.Background(), "", d.ReplyTo, false, false, amqp.Publishing{
					ContentType: "application/json", CorrelationId: d.CorrelationId, Body: d.Body,
				})
				mu.Unlock()
			}(d)
		}
		inflight.Wait()
	}()
	return s, nil
}

func (s *echoServer) Close() {
	s.conn.Close() // the queue is auto-deleted with its consumer
	<-s.done
}

// echoClient is an RPC client with broker.RPC's pattern and its own reply
// queue.
type echoClient struct {
	conn    *amqp.Connection
	ch      *amqp.Channel
	replyTo string

	mu      sync.Mutex
	pending map[string]chan []byte
	seq     atomic.Uint64
	prefix  string
}

func newEchoClient(ctx context.Context, url, replyQueue string) (*echoClient, error) {
	conn, err := broker.Dial(ctx, url, 0)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*echoClient, error) {
		conn.Close()
		return nil, fmt.Errorf("echo client: %s: %w", what, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open channel", err)
	}
	if _, err := ch.QueueDeclare(replyQueue, false, true, true, false, nil); err != nil {
		return fail("declare "+replyQueue, err)
	}
	if err := ch.Confirm(false); err != nil {
		return fail("enable publisher confirms", err)
	}
	replies, err := ch.Consume(replyQueue, "", true, false, false, false, nil)
	if err != nil {
		return fail("consume "+replyQueue, err)
	}
	c := &echoClient{conn: conn, ch: ch, replyTo: replyQueue, pending: map[string]chan []byte{}, prefix: randomID()}
	go func() {
		for d := range replies {
			c.mu.Lock()
			wait, ok := c.pending[d.CorrelationId]
			delete(c.pending, d.CorrelationId)
			c.mu.Unlock()
			if ok {
				wait <- d.Body
			}
		}
	}()
	return c, nil
}

// Call publishes body to queue and waits for the echo, as broker.RPC.Call.
func (c *echoClient) Call(ctx context.Context, queue string, body []byte, confirm bool, expiration time.Duration) error {
	id := c.prefix + strconv.FormatUint(c.seq.Add(1), 10)
	wait := make(chan []byte, 1)
	c.mu.Lock()
	c.pending[id] = wait
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	msg := amqp.Publishing{
		ContentType:   "application/json",
		CorrelationId: id,
		MessageId:     id,
		ReplyTo:       c.replyTo,
		Body:          body,
	}
	if confirm {
		msg.DeliveryMode = amqp.Persistent
	}
	if expiration > 0 {
		msg.Expiration = strconv.FormatInt(expiration.Milliseconds(), 10)
	}
	conf, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, msg)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	if confirm {
		ok, err := conf.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("confirm on %s: %w", queue, err)
		}
		if !ok {
			return errors.New("broker refused the message (nack)")
		}
	}
	select {
	case b := <-wait:
		if len(b) != len(body) {
			return fmt.Errorf("echo of %d bytes answered with %d", len(body), len(b))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no echo on %s: %w", queue, ctx.Err())
	}
}

func (c *echoClient) Close() { c.conn.Close() }
