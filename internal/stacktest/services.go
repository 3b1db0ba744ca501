package stacktest

import (
	"context"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rideshare/dbaas/internal/broker"
)

// Addresses of the real services the tests use; env vars override them.
var (
	// AMQPURL is the broker of the tests: by default a vhost of their own
	// (see vhost.go), so a `make run` stack on "/" and the tests — and test
	// processes running at once — never share queues.
	AMQPURL = envOr("RIDESHARE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"+testVhost())
	ZKAddr  = envOr("RIDESHARE_ZK", "127.0.0.1:2181")
	PGURL   = envOr("RIDESHARE_PG_URL", "postgres://rideshare:rideshare@127.0.0.1:5432/postgres?sslmode=disable")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// RequireServices fails the test, naming the service, when RabbitMQ or
// ZooKeeper does not answer. Run `make services` to start them.
func RequireServices(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := broker.Dial(ctx, AMQPURL, 0)
	if err != nil {
		t.Fatalf("RabbitMQ is not answering at %s (run `make services`, which also creates the vhost): %v", AMQPURL, err)
	}
	conn.Close()
	c, err := net.DialTimeout("tcp", ZKAddr, 3*time.Second)
	if err != nil {
		t.Fatalf("ZooKeeper is not answering at %s (run `make services`): %v", ZKAddr, err)
	}
	c.Close()
}

// RequirePostgres fails the test, naming PostgreSQL, when it does not answer.
func RequirePostgres(t testing.TB) {
	t.Helper()
	u, err := url.Parse(PGURL)
	if err != nil {
		t.Fatalf("bad PostgreSQL URL %q: %v", PGURL, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 3*time.Second)
	if err != nil {
		t.Fatalf("PostgreSQL is not answering at %s (run `make services`): %v", u.Host, err)
	}
	c.Close()
}

// Channel opens an AMQP channel on url for a test, closed (with its
// connection) when the test ends.
func Channel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := broker.Dial(ctx, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel on %s: %v", url, err)
	}
	return ch
}
