package bench

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/internal/broker"
)

// The floor: a bare AMQP echo RPC on the same broker, built the way the data
// path is built, so that the difference between it and a DB API call is what
// the orchestrator, the HTTP hop and the worker add.
//
//   - The echo server stands in for a worker: its own connection, a consumer
//     with the worker's prefetch and manual acks, one goroutine per delivery,
//     the reply published on one shared channel under a mutex to d.ReplyTo
//     with d.CorrelationId, then the ack (worker.serveRead / worker.reply).
//   - The client is broker.RPC itself, the orchestrator's client, with a
//     reply queue of its own (so that it never takes the orchestrator's
//     replies): the same channels, confirms and message properties.

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
				mu.Lock()
				_ = broker.Reply(context.Background(), replyCh, d, 200, d.Body)
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
