package broker

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// dialTimeout bounds one attempt to connect, handshake included: a paused
// broker accepts the TCP connection and then says nothing, and the library's
// own bound (30 s) would hold a retry that long.
const dialTimeout = 5 * time.Second

// dialStagger is how long an attempt on one node of a list has before the
// next node is tried beside it. A killed node can hold an attempt for up to
// dialTimeout: in the cluster test, the name of a killed container took
// 4.3–4.9 s to fail, and every process whose turn came to that node stalled
// that long. A live node answers in milliseconds, or a few hundred under a
// loaded machine.
const dialStagger = 500 * time.Millisecond

// Dial connects to RabbitMQ at url, a broker URL or a comma-separated list
// of them (the nodes of a cluster, see SplitURLs), retrying until ctx is done
// so that a worker or orchestrator started just before the broker answers
// still comes up. Each attempt tries the URLs in turn, beginning after the
// one the last connection to this list was made to: a process whose node
// died reconnects to the next. A node that has not answered within
// dialStagger does not hold up the next: it is tried beside it, and the first
// connection made is kept. heartbeat bounds how long a silent (hung or
// stopped) peer keeps its unacknowledged messages.
func Dial(ctx context.Context, url string, heartbeat time.Duration) (*amqp.Connection, error) {
	if heartbeat <= 0 {
		heartbeat = 5 * time.Second
	}
	urls, err := SplitURLs(url)
	if err != nil {
		return nil, fmt.Errorf("dial RabbitMQ: %w", err)
	}
	cur := cursorOf(url, len(urls))
	cfg := amqp.Config{Heartbeat: heartbeat, Locale: "en_US", Dial: amqp.DefaultDial(dialTimeout)}
	for {
		i, conn, err := dialStaggered(ctx, urls, cur.order(urls), cfg)
		if err == nil {
			cur.connected(i, len(urls))
			return conn, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial RabbitMQ at %s: %w (last error: %w)", redactList(url), ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// dialStaggered is one attempt over the URLs in order: it starts on the
// next URL when the earlier ones have all failed or dialStagger has passed
// since the last start, and returns the first connection made (with its
// URL's index); the connections made after it are closed. It fails with the
// last URL's error once every URL has failed, or when ctx ends.
func dialStaggered(ctx context.Context, urls []string, order []int, cfg amqp.Config) (int, *amqp.Connection, error) {
	type result struct {
		i    int
		conn *amqp.Connection
		err  error
	}
	results := make(chan result, len(order))
	next, pending := 0, 0
	start := func() {
		i := order[next]
		next++
		pending++
		go func() {
			conn, err := amqp.DialConfig(urls[i], cfg)
			results <- result{i, conn, err}
		}()
	}
	// The attempts still running when one wins are left to finish: any
	// connection they make is closed.
	abandon := func(n int) {
		go func() {
			for ; n > 0; n-- {
				if r := <-results; r.err == nil {
					r.conn.Close()
				}
			}
		}()
	}
	start()
	stagger := time.NewTimer(dialStagger)
	defer stagger.Stop()
	var lastErr error
	for {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				abandon(pending)
				return r.i, r.conn, nil
			}
			lastErr = fmt.Errorf("%s: %w", redact(urls[r.i]), r.err)
			if next < len(order) && ctx.Err() == nil {
				start()
				stagger.Reset(dialStagger)
			} else if pending == 0 {
				return 0, nil, lastErr
			}
		case <-stagger.C:
			if next < len(order) {
				start()
				stagger.Reset(dialStagger)
			}
		case <-ctx.Done():
			abandon(pending)
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return 0, nil, lastErr
		}
	}
}
