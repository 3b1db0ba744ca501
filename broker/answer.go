package broker

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// StatusHeader carries the HTTP status of a worker's answer; the body is the
// JSON the orchestrator sends on as it is, so it decodes and encodes nothing.
const StatusHeader = "status"

// StatusOf is the HTTP status a reply carries (502 when it carries none: an
// answer the orchestrator cannot vouch for).
func StatusOf(d amqp.Delivery) int {
	switch v := d.Headers[StatusHeader].(type) {
	case int32:
		return int(v)
	case int64:
		return int(v)
	case int16:
		return int(v)
	}
	return 502
}

// Reply answers request d on ch with an HTTP status and a JSON body. A
// request without a reply queue (sent by nobody waiting) gets no answer.
func Reply(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, status int, body []byte) error {
	if d.ReplyTo == "" {
		return nil
	}
	err := ch.PublishWithContext(ctx, "", d.ReplyTo, false, false, amqp.Publishing{
		ContentType:   "application/json",
		CorrelationId: d.CorrelationId,
		Headers:       amqp.Table{StatusHeader: int32(status)},
		Body:          body,
	})
	if err != nil {
		return fmt.Errorf("reply to %s (correlation id %s): %w", d.ReplyTo, d.CorrelationId, err)
	}
	return nil
}
