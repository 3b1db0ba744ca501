// Package orchestrator is the front of the DBaaS: the DB API that relays
// reads and writes through RabbitMQ, the supervisor that holds 1 master + N
// slaves, the read-count autoscaler and the admin API. It never touches a
// database itself.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/internal/httpmetrics"
	"github.com/rideshare/dbaas/orchestrator/ui"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
)

// Defaults of Options (and of the deployment file's orchestrator and
// scaling blocks, internal/config).
const (
	// DefaultRPCTimeout bounds how long a DB API call waits for a worker's
	// answer (then 504).
	DefaultRPCTimeout = 10 * time.Second
	// DefaultScaleInterval is the autoscaling period.
	DefaultScaleInterval = 2 * time.Minute
	// DefaultReadsPerSlave: slaves = ceil(reads in an interval / this).
	DefaultReadsPerSlave = 20
	// DefaultMinSlaves and DefaultMaxSlaves bound the slaves the scaler asks
	// for.
	DefaultMinSlaves = 1
	DefaultMaxSlaves = 8
)

// Options configure an orchestrator; a zero value takes its default
// (DefaultRPCTimeout, DefaultScaleInterval, …).
type Options struct {
	// ID names this orchestrator among those sharing the stack (default
	// DefaultID): its reply queue (ReplyQueue) and its name in the
	// supervision lock.
	ID         string
	Listen     string
	AMQPURL    string
	RPCTimeout time.Duration
	// Topology is how the queues are declared (request queue type, syncQ's
	// retention), by every process alike.
	Topology broker.Topology

	Runtime runtime.Runtime
	// OpenElection opens an election session; the orchestrator opens a new
	// one whenever its session is lost.
	OpenElection func(ctx context.Context) (election.Election, error)
	// NewWorker describes the worker to start under a fresh id.
	NewWorker func(id string) runtime.Spec
	// DestroyWorker drops a dead worker's database (may be nil).
	DestroyWorker func(ctx context.Context, id string) error

	// Slaves is the number of slaves before scaling has decided anything.
	Slaves        int
	ScaleInterval time.Duration
	ReadsPerSlave int
	MinSlaves     int
	MaxSlaves     int
	// StopWorkersOnExit stops every worker when Run returns (rideshare up),
	// unless another orchestrator supervises them then (SupervisedElsewhere);
	// otherwise they keep running for the next orchestrator to adopt.
	StopWorkersOnExit bool
	// PluginRestarts counts the restarts of the plugins the caller loaded
	// for this orchestrator (nil: a count of its own, left at zero).
	PluginRestarts *PluginRestarts

	// AdminToken and DBToken, when set, are the bearer tokens the admin API
	// and the DB API require (auth.go); "" leaves that API open.
	AdminToken string
	DBToken    string

	Logger hclog.Logger
}

// Orchestrator serves the DB and admin APIs and supervises workers.
type Orchestrator struct {
	opts   Options
	log    hclog.Logger
	rpc    *broker.RPC
	sup    *Supervisor
	scaler *scaler
	// events is the timeline (GET /api/v1/events); metrics GET /metrics.
	events  *journal
	metrics *metrics
}

// New checks the options.
func New(opts Options) (*Orchestrator, error) {
	if opts.Runtime == nil || opts.OpenElection == nil || opts.NewWorker == nil {
		return nil, errors.New("orchestrator: runtime, election and NewWorker are required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.ID == "" {
		opts.ID = DefaultID
	}
	if err := CheckID(opts.ID); err != nil {
		return nil, err
	}
	if opts.RPCTimeout <= 0 {
		opts.RPCTimeout = DefaultRPCTimeout
	}
	if opts.ReadsPerSlave <= 0 {
		opts.ReadsPerSlave = DefaultReadsPerSlave
	}
	if opts.MinSlaves <= 0 {
		opts.MinSlaves = DefaultMinSlaves
	}
	if opts.MaxSlaves <= 0 {
		opts.MaxSlaves = DefaultMaxSlaves
	}
	if opts.MaxSlaves < opts.MinSlaves {
		opts.MaxSlaves = opts.MinSlaves
	}
	if opts.Slaves < opts.MinSlaves {
		opts.Slaves = opts.MinSlaves
	}
	if opts.ScaleInterval <= 0 {
		opts.ScaleInterval = DefaultScaleInterval
	}
	if opts.PluginRestarts == nil {
		opts.PluginRestarts = NewPluginRestarts()
	}
	o := &Orchestrator{opts: opts, log: opts.Logger, events: newJournal(DefaultEventsKept)}
	o.sup = newSupervisor(opts.Runtime, opts.OpenElection, opts.Slaves, opts.Logger.Named("supervisor"), opts.NewWorker, opts.DestroyWorker)
	o.sup.record = o.events.add
	o.sup.id = opts.ID
	o.sup.onRole = o.roleChanged
	o.scaler = &scaler{interval: opts.ScaleInterval, perSlave: opts.ReadsPerSlave, min: opts.MinSlaves, max: opts.MaxSlaves, set: o.scaled}
	o.metrics = newMetrics(o, opts.PluginRestarts)
	return o, nil
}

// Handler is the HTTP API.
func (o *Orchestrator) Handler() http.Handler {
	mux := http.NewServeMux()
	// Each route is wrapped by its class (auth.go): o.db, o.admin, or
	// nothing for the open ones (probes, /metrics, the dashboard's files).
	mux.Handle(api.RouteDBWrite, o.db(httpjson.Methods{http.MethodPost: o.handleWrite}))
	mux.Handle(api.RouteDBRead, o.db(httpjson.Methods{http.MethodPost: o.handleRead}))
	mux.Handle(api.RouteDBClear, o.db(httpjson.Methods{http.MethodPost: o.handleClear}))
	mux.Handle(api.RouteDBPrefix, o.db(http.HandlerFunc(httpjson.NotFound))) // unknown DB paths too: no probing
	mux.Handle(api.RouteCrashMaster, o.admin(httpjson.Methods{http.MethodPost: o.handleCrashMaster}))
	mux.Handle(api.RouteCrashSlave, o.admin(httpjson.Methods{http.MethodPost: o.handleCrashSlave}))
	mux.Handle(api.RouteWorkerList, o.admin(httpjson.Methods{http.MethodGet: o.handleWorkerList}))
	mux.Handle(api.RouteWorkers, o.admin(httpjson.Methods{http.MethodGet: o.handleWorkers}))
	mux.Handle(api.RouteSwitchover, o.admin(httpjson.Methods{http.MethodPost: o.handleSwitchover}))
	mux.Handle(api.RouteEvents, o.admin(httpjson.Methods{http.MethodGet: o.handleEvents}))
	mux.Handle(api.RouteStatus, o.admin(httpjson.Methods{http.MethodGet: o.handleStatus}))
	mux.Handle(api.RouteMetrics, httpjson.Methods{http.MethodGet: httpmetrics.Handler(o.metrics.reg).ServeHTTP})
	mux.Handle(api.RouteReadyz, httpjson.Methods{http.MethodGet: o.handleReadyz})
	mux.Handle(api.RouteLivez, httpjson.Methods{http.MethodGet: o.handleLivez})
	mux.Handle(api.RouteHealthz, httpjson.Methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		httpjson.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}})
	mux.Handle(api.RouteUI, ui.Handler())
	mux.HandleFunc("/", httpjson.NotFound)
	return o.metrics.http.Middleware(mux)
}

// Run serves until ctx is done.
func (o *Orchestrator) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", o.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.opts.Listen, err)
	}
	return o.Serve(ctx, ln)
}

// Serve is Run on an open listener.
func (o *Orchestrator) Serve(ctx context.Context, ln net.Listener) error {
	rpc, err := broker.NewRPC(ctx, o.opts.AMQPURL, broker.RPCOptions{Topology: o.opts.Topology, DeclareShared: true, ReplyQueue: ReplyQueue(o.opts.ID), OnNotice: o.onNotice}, o.log.Named("rpc"))
	if err != nil {
		ln.Close()
		return err
	}
	o.rpc = rpc
	defer rpc.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.scaler.mu.Lock()
	o.scaler.ctx = ctx
	o.scaler.mu.Unlock()

	supDone := make(chan error, 1)
	go func() { supDone <- o.sup.Run(ctx) }()
	go o.tallies(ctx)

	srv := &http.Server{Handler: o.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	o.log.Info("orchestrator listening", "addr", ln.Addr().String())

	var runErr error
	supEnded := false
	select {
	case <-ctx.Done():
	case err := <-supDone:
		runErr = fmt.Errorf("supervisor: %w", err)
		supEnded = true
	case err := <-srvDone:
		runErr = fmt.Errorf("http server: %w", err)
	}
	cancel()
	shutCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	_ = srv.Shutdown(shutCtx)
	if !supEnded {
		// Its session (and the supervision lock) closes as Run returns.
		select {
		case <-supDone:
		case <-shutCtx.Done():
		}
	}
	if o.opts.StopWorkersOnExit && !o.sup.SupervisedElsewhere(context.Background()) {
		// Its own bound: each worker gets 3 s to stop, then its database is
		// dropped (a PostgreSQL DROP DATABASE can take a moment).
		stopCtx, stopped := context.WithTimeout(context.Background(), 15*time.Second)
		defer stopped()
		o.log.Info("stopping all workers")
		o.sup.StopAll(stopCtx, 3*time.Second)
	}
	return runErr
}

// Ready is closed once the supervisor has adopted running workers and made
// its first reconcile.
func (o *Orchestrator) Ready() <-chan struct{} { return o.sup.ready }
