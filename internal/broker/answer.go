package broker

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// StatusHeader carries the HTTP status of a worker's answer; the body is the
// JSON the orchestrator sends on as it is, so it decodes and encodes nothing.
const StatusHeader = "status"

// AnswersHeader marks a message that carries the answers to several
// requests at once (a JSON array of Addressed): the master answers a whole
// group commit to each reply queue in one message.
const AnswersHeader = "answers"

// Addressed is one answer of a message that carries several.
type Addressed struct {
	CorrelationID string          `json:"id"`
	Status        int             `json:"status"`
	Body          json.RawMessage `json:"body"`
}

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

// ReplyAll sends answers to the reply queue replyTo in one message (one
// answer goes as a plain Reply).
func ReplyAll(ctx context.Context, ch *amqp.Channel, replyTo string, answers []Addressed) error {
	switch {
	case replyTo == "" || len(answers) == 0:
		return nil
	case len(answers) == 1:
		a := answers[0]
		return Reply(ctx, ch, amqp.Delivery{ReplyTo: replyTo, CorrelationId: a.CorrelationID}, a.Status, a.Body)
	}
	body, err := json.Marshal(answers)
	if err != nil {
		return fmt.Errorf("encode %d answers to %s: %w", len(answers), replyTo, err)
	}
	err = ch.PublishWithContext(ctx, "", replyTo, false, false, amqp.Publishing{
		ContentType: "application/json",
		Headers:     amqp.Table{AnswersHeader: int32(len(answers))},
		Body:        body,
	})
	if err != nil {
		return fmt.Errorf("send %d answers to %s: %w", len(answers), replyTo, err)
	}
	return nil
}

// Answers are the answers one reply message carries, by correlation id.
func Answers(d amqp.Delivery) (map[string]Answer, error) {
	if _, many := d.Headers[AnswersHeader]; !many {
		return map[string]Answer{d.CorrelationId: {Status: StatusOf(d), Body: d.Body}}, nil
	}
	var as []Addressed
	if err := json.Unmarshal(d.Body, &as); err != nil {
		return nil, fmt.Errorf("decode a message of answers: %w", err)
	}
	out := make(map[string]Answer, len(as))
	for _, a := range as {
		out[a.CorrelationID] = Answer{Status: a.Status, Body: a.Body}
	}
	return out, nil
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
