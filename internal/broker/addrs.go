package broker

// A deployment names its brokers in one string, amqp_url: one URL, or the
// URLs of a cluster's nodes separated by commas. Dial tries them in turn.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// SplitURLs splits a list of broker URLs ("amqp://a/,amqp://b/") and checks
// each. Spaces around a URL are ignored; an empty list or an empty or
// unparsable member is an error naming it.
func SplitURLs(list string) ([]string, error) {
	var urls []string
	for i, u := range strings.Split(list, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			return nil, fmt.Errorf("broker URL %d of %q is empty", i+1, redactList(list))
		}
		if _, err := amqp.ParseURI(u); err != nil {
			return nil, fmt.Errorf("broker URL %d (%s): %w", i+1, redact(u), err)
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// cursors remember, per list, which URL the next Dial tries first: the one
// after the URL of the last connection made, so that a process whose broker
// node died goes on to the next node at once instead of waiting on the dead
// one first. A list's cursor starts at a random URL, which spreads the
// processes of a deployment over the nodes.
var cursors sync.Map // list → *cursor

type cursor struct {
	mu   sync.Mutex
	next int
}

func cursorOf(list string, n int) *cursor {
	c, ok := cursors.Load(list)
	if !ok {
		c, _ = cursors.LoadOrStore(list, &cursor{next: rand.IntN(n)})
	}
	return c.(*cursor)
}

// order is the list's URLs in the order the next attempt tries them.
func (c *cursor) order(urls []string) []int {
	c.mu.Lock()
	start := c.next
	c.mu.Unlock()
	idx := make([]int, len(urls))
	for i := range idx {
		idx[i] = (start + i) % len(urls)
	}
	return idx
}

// connected records that URL i of the list took a connection.
func (c *cursor) connected(i, n int) {
	c.mu.Lock()
	c.next = (i + 1) % n
	c.mu.Unlock()
}

// redactList redacts every URL of a list.
func redactList(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			parts[i] = redact(p)
		}
	}
	return strings.Join(parts, ",")
}

// NodeUnready says whether err is a cluster node refusing what another node
// would take: a stream with no replica running on the node (406 "does not
// have a replica on the local node", while the replica restarts), or a
// queue whose node is down (404 "down or inaccessible"). The channel is
// closed then, not the connection: a process that meets it should close
// the connection and dial again, to the next node (Dial).
func NodeUnready(err error) bool {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case amqp.PreconditionFailed:
		return strings.Contains(ae.Reason, "replica")
	case amqp.NotFound:
		return strings.Contains(ae.Reason, "down or inaccessible")
	}
	return false
}
