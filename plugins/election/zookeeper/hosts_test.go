package zookeeper

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rideshare/dbaas/plugins/election"
)

// TestHostsOrder: Next cycles through every server, retryStart comes once
// all were tried since the last success, and Connected moves that mark.
func TestHostsOrder(t *testing.T) {
	h := &dialHosts{}
	servers := []string{"a:1", "b:2", "c:3"}
	if err := h.Init(servers); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 3 {
		t.Fatalf("Len = %d, want 3", h.Len())
	}
	var seen []string
	for i := 0; i < 3; i++ {
		s, retry := h.Next()
		if retry {
			t.Fatalf("retryStart at try %d of 3, before every server was tried", i+1)
		}
		seen = append(seen, s)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, servers) {
		t.Fatalf("Next gave %v, want each of %v once", seen, servers)
	}
	if _, retry := h.Next(); !retry {
		t.Fatal("no retryStart after every server was tried")
	}
	h.Connected() // the 4th try (the 1st server again) answered
	for i := 0; i < 2; i++ {
		if _, retry := h.Next(); retry {
			t.Fatalf("retryStart %d tries after a success, want it only after 3", i+1)
		}
	}
	if _, retry := h.Next(); !retry {
		t.Fatal("no retryStart 3 tries after a success")
	}
	if err := (&dialHosts{}).Init([]string{"no-port"}); err == nil {
		t.Fatal("Init accepted a server with no port")
	}
}

// TestHostsResolvedAtDial: a server whose name does not resolve when the
// session starts (an ensemble member not up yet, or killed: Docker's DNS
// drops a stopped container's name) does not keep the client from the
// others, and every dial gets a name, not an address fixed at Connect.
// go-zookeeper's default provider fails Connect on the unresolvable name,
// which the test checks first, so it shows the difference.
func TestHostsResolvedAtDial(t *testing.T) {
	host, port, err := net.SplitHostPort(zkServers()[0])
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		host = "localhost" // a name, so that the dials below show whether it was resolved before
	}
	absent := "rideshare-zk-absent.invalid:" + port
	servers := []string{absent, net.JoinHostPort(host, port)}
	if err := zk.NewDNSHostProvider().Init(servers); err == nil {
		t.Fatalf("go-zookeeper's DNSHostProvider accepted %v; this test no longer shows anything", servers)
	}

	var mu sync.Mutex
	var dialed []string
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, address)
		mu.Unlock()
		return net.DialTimeout(network, address, timeout)
	}
	root := testRoot(t)
	ctx := ctxT(t, 10*time.Second)
	cfg := election.Config{Servers: servers, Root: root, SessionTimeout: testSessionTimeout}
	e, err := newElection(ctx, cfg, testLog(t.Name()), options{dial: dial})
	if err != nil {
		t.Fatalf("New with %v (one name unresolvable): %v", servers, err)
	}
	defer e.Close()
	if err := e.Join(ctx, worker(1)); err != nil {
		t.Fatalf("join through %v: %v", servers, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range dialed {
		if !slices.Contains(servers, a) {
			t.Errorf("dialed %q: not a configured server name %v (resolved before the dial)", a, servers)
		}
	}
	if !slices.Contains(dialed, servers[1]) {
		t.Errorf("dials %v: never %s", dialed, servers[1])
	}
}
