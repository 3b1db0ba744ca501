package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrUnavailable means the broker cannot take the request now (503).
var ErrUnavailable = errors.New("message broker unavailable")

// ErrTimeout means no worker answered in time (504).
var ErrTimeout = errors.New("no worker answered in time")

// RPC sends requests to readQ or writeQ and waits for the reply on responseQ,
// matched by correlation id. It is safe for concurrent use and reconnects by
// itself when the broker connection drops; calls in flight then fail.
type RPC struct {
	url string
	log hclog.Logger

	mu      sync.Mutex
	ch      *amqp.Channel // confirm mode; nil while disconnected
	pending map[string]chan []byte
	closed  bool
	conn    *amqp.Connection
}

// CallOptions tune one call.
type CallOptions struct {
	// Confirm waits for the broker to take responsibility for the message
	// (publisher confirm) and makes it persistent: used for writes.
	Confirm bool
	// Expiration drops the request from its queue if no worker took it in
	// time: used for reads, which are worthless once the caller gave up.
	Expiration time.Duration
}

// NewRPC connects and starts consuming responseQ.
func NewRPC(ctx context.Context, url string, log hclog.Logger) (*RPC, error) {
	r := &RPC{url: url, log: log, pending: map[string]chan []byte{}}
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RPC) connect(ctx context.Context) error {
	conn, err := Dial(ctx, r.url, 0)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return fmt.Errorf("open channel: %w", err)
	}
	if err := Declare(ch); err != nil {
		conn.Close()
		return err
	}
	if err := ch.Confirm(false); err != nil {
		conn.Close()
		return fmt.Errorf("enable publisher confirms: %w", err)
	}
	replies, err := ch.Consume(ResponseQ, "", true, false, false, false, nil)
	if err != nil {
		conn.Close()
		return fmt.Errorf("consume %s: %w", ResponseQ, err)
	}
	r.mu.Lock()
	r.conn, r.ch = conn, ch
	r.mu.Unlock()
	go r.dispatch(conn, replies)
	go r.redialOnClose(conn.NotifyClose(make(chan *amqp.Error, 1)))
	return nil
}

// dispatch hands each reply to the call waiting for its correlation id; a
// reply nobody waits for (the caller timed out) is dropped. When the reply
// consumer ends while the connection lives on (responseQ was deleted), it
// closes the connection, so the client reconnects and declares it again
// instead of waiting for replies that can no longer come.
func (r *RPC) dispatch(conn *amqp.Connection, replies <-chan amqp.Delivery) {
	for d := range replies {
		r.mu.Lock()
		wait, ok := r.pending[d.CorrelationId]
		delete(r.pending, d.CorrelationId)
		r.mu.Unlock()
		if ok {
			wait <- d.Body
		}
	}
	if !conn.IsClosed() {
		r.log.Warn("reply consumer on " + ResponseQ + " was cancelled; reconnecting")
		conn.Close()
	}
}

func (r *RPC) redialOnClose(closed <-chan *amqp.Error) {
	err := <-closed
	r.mu.Lock()
	r.ch = nil
	done := r.closed
	r.mu.Unlock()
	if done {
		return
	}
	r.log.Warn("broker connection lost; reconnecting", "error", err)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.connect(ctx)
		cancel()
		if err == nil {
			r.log.Info("broker connection restored")
			return
		}
		r.mu.Lock()
		done := r.closed
		r.mu.Unlock()
		if done {
			return
		}
		r.log.Error("reconnect to broker failed", "error", err)
	}
}

// Call publishes body to queue with correlation id id and waits for the
// reply until ctx is done (ErrTimeout).
func (r *RPC) Call(ctx context.Context, queue, id string, body []byte, opt CallOptions) ([]byte, error) {
	wait := make(chan []byte, 1)
	r.mu.Lock()
	ch := r.ch
	if ch == nil {
		r.mu.Unlock()
		return nil, ErrUnavailable
	}
	r.pending[id] = wait
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
	}()

	msg := amqp.Publishing{
		ContentType:   "application/json",
		CorrelationId: id,
		MessageId:     id,
		ReplyTo:       ResponseQ,
		Body:          body,
	}
	if opt.Confirm {
		msg.DeliveryMode = amqp.Persistent
	}
	if opt.Expiration > 0 {
		msg.Expiration = strconv.FormatInt(opt.Expiration.Milliseconds(), 10)
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, msg)
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w: %v", queue, ErrUnavailable, err)
	}
	if opt.Confirm {
		ok, err := conf.WaitContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("confirm of %s to %s: %w", id, queue, ErrTimeout)
		}
		if !ok {
			return nil, fmt.Errorf("broker refused %s on %s: %w", id, queue, ErrUnavailable)
		}
	}
	select {
	case b := <-wait:
		return b, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("request %s on %s: %w", id, queue, ErrTimeout)
	}
}

// Close stops the client.
func (r *RPC) Close() error {
	r.mu.Lock()
	r.closed = true
	conn := r.conn
	r.mu.Unlock()
	if conn != nil {
		return conn.Close()
	}
	return nil
}
