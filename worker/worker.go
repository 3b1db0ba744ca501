package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/storage"
)

// Worker is one database replica.
type Worker struct {
	cfg  Config
	st   storage.Storage
	sess atomic.Pointer[session]
	// reopen opens a new election session after one is lost (nil: a lost
	// session stops the worker).
	reopen func(context.Context) (election.Election, error)
	log    hclog.Logger

	started  time.Time
	applied  *appliedSeq
	logEpoch atomic.Uint64 // highest epoch read in the log
	logBytes atomic.Int64  // bytes of log messages read (the snapshot policy)
	prog     progress

	conn          atomic.Pointer[broker.Conn] // this term's; see connect
	connectedOnce atomic.Bool                 // the next connection is a broker.Reconnect
	replies       replier                     // answers to the orchestrator; shared by readers
	replyMu       sync.Mutex

	// unsure is the batch a master could not confirm, until the next term
	// has read the log for it (settle). Only Run's goroutine touches it.
	unsure *unsureBatch

	role     string
	roleMu   sync.Mutex
	from     string // the snapshot loaded at start
	draining bool
	ready    bool
}

// New makes a worker around an open storage and an election session.
func New(cfg Config, st storage.Storage, el election.Election, log hclog.Logger) *Worker {
	cfg.defaults()
	w := &Worker{cfg: cfg, st: st, log: log.With("worker", cfg.ID), started: time.Now(), role: election.RoleSlave}
	w.sess.Store(&session{el})
	return w
}

// session wraps the current election session for atomic replacement.
type session struct{ election.Election }

// brokerConn is the current broker connection.
func (w *Worker) brokerConn() *broker.Conn { return w.conn.Load() }

// el is the current election session.
func (w *Worker) el() election.Election { return w.sess.Load().Election }

// ReopenWith lets the worker survive the loss of its election session: it
// opens a new one with open and joins again. A slave serves reads meanwhile;
// a master stops taking writes and starts again as a slave.
func (w *Worker) ReopenWith(open func(context.Context) (election.Election, error)) { w.reopen = open }

// CloseElection closes the current election session (the caller owns it,
// as it owned the one given to New).
func (w *Worker) CloseElection() error { return w.el().Close() }

// renewSession opens a new election session, retrying until ctx is done,
// joins it with the worker's record and makes it current. The old session
// is closed.
func (w *Worker) renewSession(ctx context.Context) error {
	if w.reopen == nil {
		return errors.New("election session lost")
	}
	w.log.Info("opening a new election session")
	for attempt := 0; ; attempt++ {
		el, err := w.reopen(ctx)
		if err == nil {
			if err = el.Join(ctx, w.member()); err == nil {
				old := w.sess.Swap(&session{el})
				_ = old.Close()
				w.log.Info("election session renewed; joined again", "attempts", attempt+1)
				return nil
			}
			_ = el.Close()
		}
		w.log.Warn("open a new election session", "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("renew the election session: %w", ctx.Err())
		case <-time.After(renewEvery):
		}
	}
}

// renewEvery is the pause between attempts to open a new session.
const renewEvery = 500 * time.Millisecond

// Run serves until ctx is done (a graceful stop: reads in flight finish) or
// something the worker cannot recover from happens (storage failure, a lost
// election session without ReopenWith), which it returns so that the process
// exits and the supervisor replaces it. It outlives its dependencies' blips
// in the same process:
//   - a lost broker connection is dialled again and the worker starts a new
//     term (serve) on it; a master keeps its lead, and so its epoch, for
//     BrokerGrace while it dials, then hands it over;
//   - a master that stops leading starts again as a slave (see serve), in
//     the same session when it handed its lead over (a switchover);
//   - a lost election session is renewed (see renewSession).
func (w *Worker) Run(ctx context.Context) error {
	conn, err := w.connect(ctx, 0)
	if err != nil {
		return err
	}
	defer func() { conn.Close() }()
	defer func() {
		// Stopping with a batch it never settled: the database may hold
		// writes the log lacks, and no later term will check it.
		if w.unsure != nil {
			w.log.Warn("stopping before the log was read for this master's last batch; dropping the database")
			if derr := w.st.Destroy(context.WithoutCancel(ctx)); derr != nil {
				w.log.Error("drop tainted database", "error", derr)
			}
		}
	}()
	for {
		closed := conn.Closed()
		err := w.serve(ctx, conn)
		if ctx.Err() != nil {
			return err
		}
		lost := brokerLost(conn, closed)
		if !lost && broker.NodeUnready(err) {
			// Its node cannot serve the log now; another node of the
			// cluster may: dial again as after a lost connection.
			w.log.Warn("the broker node cannot serve the log now; dialling again", "error", err)
			lost = true
		}
		stepDown := w.reopen != nil && (errors.Is(err, errStepDown) || errors.Is(err, election.ErrSessionLost))
		handedOver := errors.Is(err, errHandedOver)
		if !lost && !stepDown && !handedOver {
			return err
		}
		wasMaster := w.demote()
		if lost {
			w.log.Warn("broker connection lost; dialling again", "error", err, "master", wasMaster && !stepDown)
			conn.Close()
			var within time.Duration // a slave dials until the broker answers
			if wasMaster && !stepDown && w.reopen != nil {
				within = w.cfg.BrokerGrace
			}
			lostAt := time.Now()
			conn, err = w.connect(ctx, within)
			if errors.Is(err, errNoBroker) {
				// Cut off from the broker for longer than a restart takes:
				// let a worker that can reach it lead.
				w.log.Warn("no broker within the grace; giving up the lead", "grace", within)
				if err := w.renewSession(ctx); err != nil {
					return err
				}
				stepDown = false
				conn, err = w.connect(ctx, 0)
			}
			if err != nil {
				return err
			}
			w.log.Info("broker connection restored", "after", time.Since(lostAt).Round(time.Millisecond))
		}
		if stepDown {
			// A master that stepped down holds nothing the log lacks: it
			// gives up its session (and with it the lead) and starts again
			// as a slave of whoever wins next.
			w.log.Warn("starting again as a slave")
			if err := w.renewSession(ctx); err != nil {
				return err
			}
		}
	}
}

// demote makes the worker a slave that is not ready, as every term starts,
// and says whether it was the master.
func (w *Worker) demote() (wasMaster bool) {
	w.roleMu.Lock()
	defer w.roleMu.Unlock()
	wasMaster = w.role == election.RoleMaster
	w.role, w.ready = election.RoleSlave, false
	return wasMaster
}

// serve is one term of the worker on its broker connection: catch up, serve
// reads, campaign, and lead if elected. It returns errStepDown when, as
// master, it stopped leading and may serve again as a slave.
func (w *Worker) serve(ctx context.Context, conn *broker.Conn) error {
	if w.unsure != nil {
		if err := w.settle(ctx); err != nil {
			return err
		}
	}
	state, err := w.st.State(ctx)
	if err != nil {
		return fmt.Errorf("read storage state: %w", err)
	}
	w.applied = newAppliedSeq(state.Seq)
	w.logEpoch.Store(state.Epoch)
	w.setProgress(&election.Progress{Phase: election.PhaseReplaying, Unit: "seq", Done: int64(state.Seq)})
	if err := w.el().Join(ctx, w.member()); err != nil {
		return fmt.Errorf("join election: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	fatal := make(chan error, 4)
	reportCtx, stopReport := context.WithCancel(runCtx)
	defer stopReport() // on every early return; called at the end of catch-up too
	go w.reportCatchUp(reportCtx)

	// Invariant 8: start from the newest snapshot when it saves most of the
	// replay; invariant 4: serve nothing until the log has been read up to a
	// mark published now, i.e. past every write acknowledged before this
	// start. A follower that finds its position dropped from the log loads a
	// snapshot covering it and starts again.
	catchStart := time.Now()
	first := state.Seq
	if state, err = w.startFrom(runCtx, state); err != nil {
		return err
	}
	var f *follower
	for attempt := 0; ; attempt++ {
		w.setProgress(&election.Progress{Phase: election.PhaseReplaying, Unit: "seq", Done: int64(state.Seq)})
		if f, err = newFollower(runCtx, w, state); err != nil {
			return err
		}
		go func(f *follower) {
			if err := f.run(runCtx); err != nil && runCtx.Err() == nil {
				fatal <- err
			}
		}(f)
		err = w.catchUp(runCtx, f, fatal)
		var fo *fellOffError
		if errors.As(err, &fo) && attempt < 3 {
			if state, err = w.rebootstrap(runCtx, fo); err == nil {
				continue
			}
		}
		if err != nil {
			return err
		}
		break
	}
	stopReport()
	w.setProgress(nil)
	took := time.Since(catchStart)
	w.log.Info("caught up with the replication log", "seq", w.applied.get(), "epoch", w.logEpoch.Load(),
		"start_seq", first, "replayed_from_seq", state.Seq, "took", took.Round(time.Millisecond))
	// The election must know the log's epoch before this member can win.
	w.roleMu.Lock()
	w.ready = true
	w.roleMu.Unlock()
	if err := w.el().Update(runCtx, w.member()); err != nil {
		if !errors.Is(err, election.ErrSessionLost) {
			return fmt.Errorf("record log epoch: %w", err)
		}
		if err := w.renewSession(runCtx); err != nil { // joins with the record as it is now
			return err
		}
	}

	readers, err := w.serveReads(runCtx, fatal)
	if err != nil {
		return err
	}
	go w.reportProgress(runCtx)
	slaveCtx, stopSlave := context.WithCancel(runCtx)
	defer stopSlave()
	go w.snapshots(slaveCtx)

	closed := conn.Closed()
	for {
		sess := w.el()
		campCtx, stopCampaign := context.WithCancel(runCtx)
		leading := w.campaign(campCtx, sess, fatal)
		select {
		case <-ctx.Done():
			stopCampaign()
			w.log.Info("stopping: finishing reads in flight")
			readers.stop()
			return nil
		case <-sess.Done():
			// A slave's state does not depend on the session: it keeps
			// following the log and serving reads while it opens a new one.
			stopCampaign()
			w.log.Warn("election session lost; reads are still served")
			if err := w.renewSession(runCtx); err != nil {
				return err
			}
			continue
		case err := <-fatal:
			stopCampaign()
			return err
		case e := <-closed:
			stopCampaign()
			return fmt.Errorf("broker connection closed: %v", e)
		case epoch := <-leading:
			stopSlave()
			readers.stop()
			err := w.lead(ctx, f, epoch, fatal)
			stopCampaign()
			var unsure *unsureError
			if errors.As(err, &unsure) && w.reopen != nil && ctx.Err() == nil {
				// The log decides whether the database can be kept: read
				// it in the next term, on a broker connection that works.
				w.log.Warn("this master's last batch may not count; the next term reads the log for it before serving", "error", err)
				w.unsure = &unsure.batch
				return errStepDown
			}
			if errors.Is(err, errTainted) {
				// Never reuse a database that may hold writes the log
				// skipped: empty it and start again as a new replica, or,
				// when the worker cannot renew its session, drop it.
				if w.reopen != nil && ctx.Err() == nil {
					w.log.Warn("this master's database may hold writes the log lacks; emptying it to start again as a new replica", "error", err)
					eerr := w.emptyDatabase(context.WithoutCancel(ctx))
					if eerr == nil {
						return errStepDown
					}
					w.log.Error("empty tainted database", "error", eerr)
				}
				if derr := w.st.Destroy(context.WithoutCancel(ctx)); derr != nil {
					w.log.Error("drop tainted database", "error", derr)
				}
			}
			return err
		}
	}
}

// campaign runs one session's campaign; the channel gets the epoch on a win.
// A campaign that ends with its session is not fatal: the session is renewed.
func (w *Worker) campaign(ctx context.Context, sess election.Candidate, fatal chan<- error) <-chan uint64 {
	leading := make(chan uint64, 1)
	go func() {
		epoch, err := sess.Campaign(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, election.ErrSessionLost) {
				fatal <- fmt.Errorf("campaign: %w", err)
			}
			return
		}
		leading <- epoch
	}()
	return leading
}

// catchUp publishes a mark and waits until the follower has read it.
func (w *Worker) catchUp(ctx context.Context, f *follower, fatal <-chan error) error {
	lg, err := w.brokerConn().OpenLog()
	if err != nil {
		return err
	}
	defer lg.Close()
	nonce := newNonce()
	seen := f.waitFor(nonce, false)
	published := time.Now()
	if err := lg.Mark(ctx, nonce); err != nil {
		return fmt.Errorf("publish catch-up mark: %w", err)
	}
	stall := time.NewTicker(stallCheck)
	defer stall.Stop()
	last := f.delivered.Load()
	for {
		select {
		case <-seen:
			return nil
		case err := <-fatal: // the follower failed before reaching the mark
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-stall.C:
		}
		// Nothing read since the last check: a position past the log's end
		// (the log was deleted or replaced under the same catalog) would
		// wait for ever, as a stream consumer waits for its offset.
		if n := f.delivered.Load(); n != last {
			last = n
			continue
		}
		tail, err := w.brokerConn().LogTail(ctx, published.Add(-time.Second))
		if err != nil {
			return err
		}
		if tail >= 0 && tail < f.expect {
			return fmt.Errorf("%s ends at offset %d, before this replica's position %d (from its database or the snapshot it loaded): "+
				"the log was deleted or replaced while the snapshot catalog under this ZooKeeper root was kept. "+
				"To keep the data, back it up (rideshare backup) and restore it into a fresh zk_root; to start empty, use a new zk_root",
				broker.SyncQ, tail, f.expect)
		}
	}
}

// stallCheck is how long catch-up waits with nothing read before it checks
// that the log reaches the replica's position at all.
const stallCheck = 2 * time.Second

func (w *Worker) member() election.Member {
	w.roleMu.Lock()
	defer w.roleMu.Unlock()
	var seq uint64
	if w.applied != nil {
		seq = w.applied.get()
	}
	return election.Member{ID: w.cfg.ID, PID: os.Getpid(), Role: w.role, AppliedSeq: seq,
		StartedAt: w.started, Draining: w.draining, Ready: w.ready, LogEpoch: w.logEpoch.Load(),
		StartedFrom: w.from, Progress: w.snapshotProgress()}
}

func (w *Worker) setRole(role string) {
	w.roleMu.Lock()
	w.role = role
	w.roleMu.Unlock()
}

// reportProgress refreshes the applied seq in the election record, so the
// orchestrator can show lag without asking every worker.
func (w *Worker) reportProgress(ctx context.Context) {
	t := time.NewTicker(w.cfg.ReportEvery)
	defer t.Stop()
	last := w.applied.get()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if seq := w.applied.get(); seq != last {
			if err := w.el().Update(ctx, w.member()); err != nil && ctx.Err() == nil {
				w.log.Warn("update election record", "error", err)
				continue
			}
			last = seq
		}
	}
}

// addressed encodes one answer of a message of answers.
func (w *Worker) addressed(correlationID string, status int, v any) broker.Addressed {
	body, err := json.Marshal(v)
	if err != nil {
		w.log.Error("encode answer", "correlation_id", correlationID, "error", err)
		status, body = http.StatusInternalServerError, []byte(`{"error":"worker could not encode its answer"}`)
	}
	return broker.Addressed{CorrelationID: correlationID, Status: status, Body: body}
}

// answer sends the DB API answer to request d: the HTTP status and the JSON
// body the orchestrator passes on as they are.
func (w *Worker) answer(ctx context.Context, d broker.Delivery, status int, v any) {
	w.answerAll(ctx, d.ReplyTo, []broker.Addressed{w.addressed(d.CorrelationID, status, v)})
}

// answerAll sends the answers of a batch bound for one reply queue.
func (w *Worker) answerAll(ctx context.Context, replyTo string, as []broker.Addressed) {
	w.replyMu.Lock()
	defer w.replyMu.Unlock()
	if err := w.replies.ReplyAll(ctx, replyTo, as); err != nil {
		w.log.Warn("send answers", "error", err)
	}
}

// outbox gathers the answers of a batch by reply queue, so that each queue
// gets one message however many answers the batch has for it.
type outbox map[string][]broker.Addressed

func (o outbox) add(replyTo string, a broker.Addressed) { o[replyTo] = append(o[replyTo], a) }

// send sends the gathered answers, one message per reply queue.
func (w *Worker) send(ctx context.Context, o outbox) {
	for to, as := range o {
		w.answerAll(ctx, to, as)
	}
}

func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
