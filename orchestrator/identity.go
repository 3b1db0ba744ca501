package orchestrator

import (
	"fmt"

	"github.com/rideshare/dbaas/internal/broker"
)

// DefaultID is the id of an orchestrator whose deployment file sets none.
// It keeps the contract's fixed reply queue, responseQ.
const DefaultID = "orchestrator"

// MaxIDLength bounds an orchestrator id: its reply queue's name must stay
// within RabbitMQ's 255 bytes.
const MaxIDLength = 64

// CheckID accepts an orchestrator id: 1 to MaxIDLength letters, digits,
// '-', '_' or '.', so that it names a queue and shows in logs as it is.
func CheckID(id string) error {
	if id == "" || len(id) > MaxIDLength {
		return fmt.Errorf("orchestrator id %q: want 1 to %d characters", id, MaxIDLength)
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return fmt.Errorf("orchestrator id %q: %q is not a letter, digit, '-', '_' or '.'", id, r)
		}
	}
	return nil
}

// ReplyQueue is where the orchestrator id receives its RPC answers: the
// contract's responseQ for DefaultID, responseQ.<id> for any other, which
// broker.RPC declares exclusive to its connection. So orchestrators with
// different ids share a vhost without taking each other's replies, and a
// second orchestrator started with an id already running fails at start
// (the queue is held) instead of stealing them.
func ReplyQueue(id string) string {
	if id == "" || id == DefaultID {
		return broker.ResponseQ
	}
	return broker.ResponseQ + "." + id
}
