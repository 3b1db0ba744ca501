package zookeeper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins/election"
)

// These tests need a real ZooKeeper (RIDESHARE_ZK_SERVERS, default
// 127.0.0.1:2181). When it is absent they fail, naming it; they never skip.
// Every test works under its own root, /rideshare-test/<random>.

const testSessionTimeout = 2 * time.Second

func zkServers() []string {
	if s := os.Getenv("RIDESHARE_ZK_SERVERS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"127.0.0.1:2181"}
}

// testLog is quiet unless RIDESHARE_TEST_LOG names a level (e.g. debug).
// It writes to stderr, not t.Log: sessions log from their own goroutines,
// possibly after the test has finished.
func testLog(name string) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("RIDESHARE_TEST_LOG"))
	if level == hclog.NoLevel {
		level = hclog.Error
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: os.Stderr})
}

// testRoot returns a fresh root and deletes its tree when the test ends
// (registered first, so it runs after every Election's Close).
func testRoot(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	root := "/rideshare-test/" + strings.ReplaceAll(t.Name(), "/", "_") + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, _, err := zk.Connect(zkServers(), testSessionTimeout, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
		if err != nil {
			t.Errorf("cleanup: connect to ZooKeeper: %v", err)
			return
		}
		defer conn.Close()
		if err := deleteTree(conn, root); err != nil {
			t.Errorf("cleanup of ZooKeeper %s: %v", root, err)
		}
		// The parent /rideshare-test stays: deleting it once empty raced
		// with a parallel test creating its root under it.
	})
	return root
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func deleteTree(conn *zk.Conn, p string) error {
	children, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := deleteTree(conn, p+"/"+c); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// open starts one Election (one session) under root, closed at test end.
func open(t *testing.T, root string, opt options) *Election {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := election.Config{Servers: zkServers(), Root: root, SessionTimeout: testSessionTimeout}
	e, err := newElection(ctx, cfg, testLog(t.Name()), opt)
	if err != nil {
		t.Fatalf("ZooKeeper at %v is not reachable (start it: see the Makefile): %v", zkServers(), err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func worker(pid int) election.Member {
	return election.Member{
		ID:        fmt.Sprintf("w%d", pid),
		PID:       pid,
		Role:      election.RoleSlave,
		StartedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
}

// joined opens an Election and joins it as worker pid.
func joined(t *testing.T, root string, pid int, opt options) *Election {
	t.Helper()
	e := open(t, root, opt)
	if err := e.Join(ctxT(t, 5*time.Second), worker(pid)); err != nil {
		t.Fatalf("join w%d: %v", pid, err)
	}
	return e
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// win is the outcome of one Campaign.
type win struct {
	pid   int
	epoch uint64
	err   error
	at    time.Time
}

// campaign runs e.Campaign in the background and reports on wins.
func campaign(ctx context.Context, e *Election, pid int, wins chan<- win) {
	go func() {
		epoch, err := e.Campaign(ctx)
		wins <- win{pid: pid, epoch: epoch, err: err, at: time.Now()}
	}()
}

func nextWin(t *testing.T, wins <-chan win, within time.Duration) win {
	t.Helper()
	select {
	case w := <-wins:
		return w
	case <-time.After(within):
		t.Fatalf("no campaign ended within %s", within)
		return win{}
	}
}

func noWin(t *testing.T, wins <-chan win, during time.Duration) {
	t.Helper()
	select {
	case w := <-wins:
		t.Fatalf("unexpected campaign end: pid %d epoch %d err %v", w.pid, w.epoch, w.err)
	case <-time.After(during):
	}
}

func wantLeader(t *testing.T, e *Election, pid int, epoch uint64) {
	t.Helper()
	l, ok, err := e.Leader(ctxT(t, 5*time.Second))
	if err != nil || !ok {
		t.Fatalf("Leader: ok=%v err=%v, want w%d", ok, err, pid)
	}
	want := election.Leader{ID: fmt.Sprintf("w%d", pid), PID: pid, Epoch: epoch}
	if l != want {
		t.Fatalf("Leader = %+v, want %+v", l, want)
	}
}

// partition is a dialer whose connections the test can cut: the client
// sees its TCP connection drop and cannot reconnect until Heal, while the
// server keeps the session until it expires — like a network partition or
// a hung process.
type partition struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (p *partition) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return nil, errors.New("test partition: network cut")
	}
	c, err := net.DialTimeout(network, address, timeout)
	if err == nil {
		p.conns = append(p.conns, c)
	}
	return c, err
}

func (p *partition) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *partition) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}
