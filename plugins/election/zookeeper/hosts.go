package zookeeper

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// dialHosts is the HostProvider this plugin gives go-zookeeper in place of
// its default, DNSHostProvider. That one resolves every server name once, in
// Connect, and keeps the addresses: Connect fails outright when one name
// does not resolve yet (a container of the ensemble not started, or killed:
// Docker's DNS drops a stopped container's name), and a server re-created
// with a new address is never found again. dialHosts keeps the names as
// configured and hands them to the dialer, which resolves each one at every
// dial (net.Dialer does): a server that is away costs one failed lookup or
// dial, and is found again at its current address when it is back.
//
// The order is shuffled once, as DNSHostProvider does, so the clients of a
// deployment spread over the ensemble; Next and Connected follow its
// contract (retryStart once every server was tried since the last success).
type dialHosts struct {
	mu      sync.Mutex
	servers []string
	curr    int
	last    int
}

// Init checks that each server is a host:port and keeps the list, shuffled;
// nothing is resolved here.
func (h *dialHosts) Init(servers []string) error {
	if len(servers) == 0 {
		return errors.New("no servers")
	}
	list := make([]string, 0, len(servers))
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("server %q: want host:port: %w", s, err)
		}
		list = append(list, s)
	}
	rand.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.servers, h.curr, h.last = list, -1, -1
	return nil
}

// Len is the number of servers.
func (h *dialHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

// Next is the next server to dial, by name; retryStart is true once every
// server has been tried since the last successful connection.
func (h *dialHosts) Next() (server string, retryStart bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart = h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

// Connected notes that the server Next last returned answered.
func (h *dialHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.curr
}
