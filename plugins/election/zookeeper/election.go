// Package zookeeper implements election.Election on Apache ZooKeeper.
//
// Layout under the configured root (e.g. /rideshare):
//
//	<root>/workers/<id>    EPHEMERAL   JSON election.Member, one per joined worker
//	<root>/leader          EPHEMERAL   JSON election.Leader, held by the master
//	<root>/epoch           PERSISTENT  the epoch counter, decimal text
//	<root>/snapshots/<id>  PERSISTENT  JSON election.SnapshotRecord: the snapshot
//	                                   catalog, created by the first record
//	<root>/orchestrators/_c_<guid>-lock-<seq>
//	                       EPHEMERAL_SEQUENTIAL  an orchestrator's id: the
//	                                   supervision lock's line (supervision.go)
//
// Invariants:
//   - The leader znode is only ever created in the same multi-op transaction
//     that increments the epoch under a version check (see claim). So every
//     leader has its own epoch, no epoch is used twice, and the epoch's znode
//     version changes exactly when a new leader is created.
//   - One Election is one ZooKeeper session. Once that session is lost
//     (expired, closed, or disconnected for longer than the session timeout)
//     Done is closed, every method fails with ErrSessionLost, and the
//     connection is never allowed to open a replacement session: a worker
//     whose ephemeral znodes are gone must not keep acting as that member.
package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/plugins"
	"github.com/rideshare/dbaas/plugins/election"
)

// Defaults for unset Config fields.
const (
	DefaultRoot           = "/rideshare"
	DefaultSessionTimeout = 2 * time.Second
	// DefaultConnectTimeout bounds how long New waits for the first session
	// when ctx has no deadline, so a missing ZooKeeper is an error, not a hang.
	DefaultConnectTimeout = 15 * time.Second
)

// OptionConnectTimeout is the Options key of how long New waits for the
// first session when its ctx has no deadline (default DefaultConnectTimeout).
const OptionConnectTimeout = "connect_timeout"

// OptionKeys are the keys of election.Config.Options that zookeeper accepts;
// any other is refused (ValidateOptions). The servers, root and session
// timeout are Config fields, not options.
var OptionKeys = []string{OptionConnectTimeout}

// parseOptions checks every key and value of opts and returns the connect
// timeout.
func parseOptions(opts map[string]string) (connectTimeout time.Duration, err error) {
	if err := plugins.CheckOptions("election", "zookeeper", opts, OptionKeys); err != nil {
		return 0, err
	}
	connectTimeout = DefaultConnectTimeout
	if v := opts[OptionConnectTimeout]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("election \"zookeeper\": option %s=%q: want a positive duration (like \"15s\")", OptionConnectTimeout, v)
		}
		connectTimeout = d
	}
	return connectTimeout, nil
}

// ValidateOptions checks options as New does, without connecting: every key
// must be one of OptionKeys and connect_timeout a positive duration.
func ValidateOptions(opts map[string]string) error {
	_, err := parseOptions(opts)
	return err
}

// ErrSessionLost is election.ErrSessionLost: one sentinel that keeps its
// identity across the plugin boundary.
var ErrSessionLost = election.ErrSessionLost

var _ election.Election = (*Election)(nil)

// Election is one ZooKeeper session acting for at most one member.
// It is safe for concurrent use.
type Election struct {
	log  hclog.Logger
	conn *zk.Conn
	acl  []zk.ACL

	root        string
	workersPath string
	leaderPath  string
	epochPath   string
	// handoverPath reserves the lead for a handover's target (Handover),
	// for handoverTimeout (election.HandoverTimeout; tests shorten it).
	handoverPath    string
	handoverTimeout time.Duration
	// snapshotsPath holds the snapshot catalog; created by the first
	// PutSnapshot, so a session that only reads it writes nothing.
	snapshotsPath string
	// orchestratorsPath holds the supervision lock's line (supervision.go).
	orchestratorsPath string

	// standalone: one server, whose reads are already linearizable with its
	// writes, so Epoch needs no Sync round trip first.
	standalone bool

	// lostAfter is how long a disconnection may last before the session is
	// treated as lost; <= 0 leaves it to the server's expiry notice.
	lostAfter time.Duration
	// sessionTimeout is the backstop on how long Epoch waits out a lost
	// connection when no client-side clock (lostAfter) runs.
	sessionTimeout time.Duration

	connReady chan struct{} // closed once conn is assigned
	connected chan struct{} // closed at the first established session
	done      chan struct{} // closed when the session is lost

	mu         sync.Mutex
	self       *election.Member // last record written by Join/Update/Campaign
	lost       error            // why the session is over; nil while alive
	hadSession bool
	lostTimer  *time.Timer // runs while disconnected

	// supMu serialises Supervise; supNode is this session's lock znode
	// (name under orchestratorsPath), "" when it is not in line.
	supMu   sync.Mutex
	supNode string
}

// options are test hooks; New uses the zero value.
type options struct {
	// dial replaces net.DialTimeout (tests use it to cut the network).
	dial zk.Dialer
	// lostAfter: 0 means cfg.SessionTimeout; < 0 disables the client-side
	// limit, leaving only the server's expiry notice.
	lostAfter time.Duration
}

// New connects to ZooKeeper, waits for a session and creates the root layout.
// ctx bounds only the connection setup (DefaultConnectTimeout applies when it
// has no deadline, or Options["connect_timeout"]); the session lives until
// Close or until it is lost. Any other option is an error (ValidateOptions).
func New(ctx context.Context, cfg election.Config, log hclog.Logger) (*Election, error) {
	return newElection(ctx, cfg, log, options{})
}

func newElection(ctx context.Context, cfg election.Config, log hclog.Logger, opt options) (*Election, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("zookeeper")
	connectTimeout, err := parseOptions(cfg.Options)
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("zookeeper: no servers configured")
	}
	root, err := cleanRoot(cfg.Root)
	if err != nil {
		return nil, err
	}
	timeout := cfg.SessionTimeout
	if timeout <= 0 {
		timeout = DefaultSessionTimeout
	}
	lostAfter := opt.lostAfter
	if lostAfter == 0 {
		lostAfter = timeout
	}

	e := &Election{
		standalone:        len(cfg.Servers) == 1,
		log:               log.With("root", root),
		acl:               zk.WorldACL(zk.PermAll),
		root:              root,
		workersPath:       root + "/workers",
		leaderPath:        root + "/leader",
		epochPath:         root + "/epoch",
		handoverPath:      root + "/handover",
		handoverTimeout:   election.HandoverTimeout,
		snapshotsPath:     root + "/snapshots",
		orchestratorsPath: root + "/orchestrators",
		lostAfter:         lostAfter,
		sessionTimeout:    timeout,
		connReady:         make(chan struct{}),
		connected:         make(chan struct{}),
		done:              make(chan struct{}),
	}
	dial := opt.dial
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, events, err := zk.Connect(cfg.Servers, timeout,
		zk.WithLogger(zkLogger{log.Named("zk")}),
		zk.WithEventCallback(e.onEvent),
		zk.WithDialer(e.guardDial(dial)),
		// Names resolved at each dial, not once here (hosts.go).
		zk.WithHostProvider(&dialHosts{}),
	)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: connect to %v: %w", cfg.Servers, err)
	}
	e.conn = conn
	close(e.connReady)
	go e.drainEvents(events)

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	select {
	case <-e.connected:
	case <-e.done:
		e.Close()
		return nil, fmt.Errorf("zookeeper: no session with %v: %w", cfg.Servers, e.alive())
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("zookeeper: no session with %v: %w", cfg.Servers, ctx.Err())
	}
	if err := e.ensureLayout(ctx); err != nil {
		e.Close()
		return nil, err
	}
	e.log.Debug("election ready", "servers", cfg.Servers, "session_timeout", timeout,
		"session", fmt.Sprintf("%#x", conn.SessionID()))
	return e, nil
}

// cleanRoot validates the root path; "" means DefaultRoot.
func cleanRoot(root string) (string, error) {
	if root == "" {
		return DefaultRoot, nil
	}
	if !strings.HasPrefix(root, "/") {
		return "", fmt.Errorf("zookeeper: root %q must be an absolute path", root)
	}
	root = path.Clean(root)
	if root == "/" {
		return "", errors.New(`zookeeper: root must not be "/"; use a dedicated path such as /rideshare`)
	}
	return root, nil
}

// ensureLayout creates root (recursively), workers and epoch ("0") when missing.
func (e *Election) ensureLayout(ctx context.Context) error {
	return e.do(ctx, "create layout under "+e.root, func() error {
		if err := e.createPath(e.root); err != nil {
			return err
		}
		if err := e.createIfMissing(e.workersPath, nil); err != nil {
			return err
		}
		return e.createIfMissing(e.epochPath, []byte("0"))
	})
}

func (e *Election) createIfMissing(p string, data []byte) error {
	_, err := e.conn.Create(p, data, zk.FlagPersistent, e.acl)
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", p, err)
	}
	return nil
}

// createPath creates p and every missing ancestor, empty and persistent.
func (e *Election) createPath(p string) error {
	prefix := ""
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		prefix += "/" + part
		if err := e.createIfMissing(prefix, nil); err != nil {
			return err
		}
	}
	return nil
}

// checkName rejects names that are not a single znode name; what says
// which kind of name it is (member id, snapshot id).
func checkName(what, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("zookeeper: invalid %s %q", what, name)
	}
	return nil
}

// Done is closed when the session is lost or the Election is closed.
func (e *Election) Done() <-chan struct{} { return e.done }

// Close ends the session; ZooKeeper deletes its ephemeral znodes (member
// record and, if held, the leader znode) at once.
func (e *Election) Close() error {
	e.markLost(errors.New("election closed"))
	<-e.connReady
	e.conn.Close()
	return nil
}

// alive returns nil while the session is usable, else why it is not.
func (e *Election) alive() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lost != nil {
		return fmt.Errorf("%w: %w", ErrSessionLost, e.lost)
	}
	return nil
}

// do runs one ZooKeeper operation (possibly several requests), giving up as
// soon as ctx is done or the session is lost. go-zookeeper calls take no
// context; an abandoned call still ends by itself (answered, or flushed with
// an error when the connection drops or closes), so the goroutine is bounded.
// Errors from op are returned as they are: op wraps them with the path.
func (e *Election) do(ctx context.Context, what string, op func() error) error {
	if err := e.alive(); err != nil {
		return fmt.Errorf("zookeeper %s: %w", what, err)
	}
	// A ctx already done starts nothing: the op would run to its end in the
	// background, e.g. write a record for a caller that has given up.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("zookeeper %s: %w", what, err)
	}
	res := make(chan error, 1)
	go func() { res <- op() }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("zookeeper %s: %w", what, ctx.Err())
	case <-e.done:
		return fmt.Errorf("zookeeper %s: %w", what, e.alive())
	}
}

func (e *Election) member() (election.Member, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.self == nil {
		return election.Member{}, false
	}
	return *e.self, true
}

func (e *Election) setMember(m election.Member) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.self = &m
}
