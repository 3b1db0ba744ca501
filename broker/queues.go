// Package broker is the RabbitMQ side of the DBaaS: the fixed queue names and
// their declarations, the orchestrator's RPC client, and the replication log
// (syncQ) publisher and reader.
package broker

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Queue names are fixed by the design (DESIGN §3.2).
const (
	ReadQ     = "readQ"
	WriteQ    = "writeQ"
	SyncQ     = "syncQ"
	ResponseQ = "responseQ"
)

// Dial connects to RabbitMQ, retrying until ctx is done so that a worker or
// orchestrator started just before the broker answers still comes up.
// heartbeat bounds how long a silent (hung or stopped) peer keeps its
// unacknowledged messages.
func Dial(ctx context.Context, url string, heartbeat time.Duration) (*amqp.Connection, error) {
	if heartbeat <= 0 {
		heartbeat = 5 * time.Second
	}
	var lastErr error
	for {
		conn, err := amqp.DialConfig(url, amqp.Config{Heartbeat: heartbeat, Locale: "en_US"})
		if err == nil {
			return conn, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial RabbitMQ at %s: %w (last error: %v)", redact(url), ctx.Err(), lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Declare declares the four queues. It is idempotent and every process calls
// it, so whichever starts first creates them with the same arguments.
// readQ and writeQ are durable; syncQ is a stream, which keeps every entry and
// lets each replica read it from its own offset; responseQ carries RPC replies.
func Declare(ch *amqp.Channel) error {
	for _, q := range []struct {
		name string
		args amqp.Table
	}{
		{ReadQ, nil},
		{WriteQ, nil},
		{ResponseQ, nil},
		{SyncQ, amqp.Table{"x-queue-type": "stream"}},
	} {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return fmt.Errorf("declare queue %s: %w", q.name, err)
		}
	}
	return nil
}

// Reset deletes every queue of the design so a fresh deployment (or a test)
// starts from an empty log. It must not be called while workers run.
func Reset(ctx context.Context, url string) error {
	conn, err := Dial(ctx, url, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	for _, q := range []string{ReadQ, WriteQ, SyncQ, ResponseQ} {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete queue %s: %w", q, err)
		}
	}
	return nil
}

// redact hides the password of an AMQP URL in messages.
func redact(url string) string {
	u, err := amqp.ParseURI(url)
	if err != nil {
		return "(unparsable amqp url)"
	}
	if u.Password != "" {
		u.Password = "xxx"
	}
	return u.String()
}
