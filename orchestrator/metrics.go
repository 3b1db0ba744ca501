package orchestrator

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/httpmetrics"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/pluginhost"
)

// The orchestrator's Prometheus metrics (GET /metrics; every one is listed
// in docs/operations.md, "Metrics"). Each orchestrator has its own registry.
// What the supervisor knows of the workers is read at scrape time (a
// Collector), so nothing is polled while nobody scrapes.

// Worker states of the workers gauge.
const (
	stateReady      = "ready"
	stateCatchingUp = "catching_up"
	stateDraining   = "draining"
)

// Scale directions of the decisions counter.
const (
	scaleUp   = "up"
	scaleDown = "down"
	scaleSame = "same"
)

// DefaultScrapeTimeout bounds the election reads of one scrape.
const DefaultScrapeTimeout = 5 * time.Second

// PluginRestarts counts restarts of this orchestrator's plugin processes,
// by kind. The wiring creates it before it loads the plugins and hands Add
// to their loader (pluginhost.LoadOptions.OnRestart).
type PluginRestarts struct{ vec *prometheus.CounterVec }

// NewPluginRestarts is a zero count.
func NewPluginRestarts() *PluginRestarts {
	p := &PluginRestarts{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rideshare_plugin_restarts_total",
		Help: "Plugin processes of the orchestrator restarted after they died, by plugin kind.",
	}, []string{"kind"})}
	for _, k := range []string{pluginhost.KindRuntime, pluginhost.KindElection, pluginhost.KindStorage} {
		p.vec.WithLabelValues(k) // shown at 0 before the first restart
	}
	return p
}

// Add counts one restart of a plugin of kind (the name is not a label: the
// deployment runs one plugin per kind).
func (p *PluginRestarts) Add(kind, _ string) { p.vec.WithLabelValues(kind).Inc() }

// metrics are the orchestrator's.
type metrics struct {
	reg  *prometheus.Registry
	http *httpmetrics.Metrics
	// rpcTimeouts by queue, resolved once (the DB API's 504s).
	rpcTimeouts    map[string]prometheus.Counter
	scaleReads     prometheus.Gauge
	scaleDecisions *prometheus.CounterVec
	tallies        *prometheus.CounterVec
}

func newMetrics(o *Orchestrator, restarts *PluginRestarts) *metrics {
	reg := httpmetrics.NewRegistry()
	timeouts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rideshare_rpc_timeouts_total",
		Help: "DB API calls answered 504 because no worker answered on the queue within rpc_timeout.",
	}, []string{"queue"})
	m := &metrics{reg: reg, http: httpmetrics.New(reg), rpcTimeouts: map[string]prometheus.Counter{},
		scaleReads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rideshare_scaler_last_reads",
			Help: "db/read calls the scaler counted in its last complete interval.",
		}),
		scaleDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rideshare_scaler_decisions_total",
			Help: "Scaling decisions, by direction against the slaves held before (up, down, same).",
		}, []string{"direction"}),
		tallies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rideshare_read_tallies_total",
			Help: "db/read calls tallied between orchestrators: sent (taken while standing by, told to the supervisor) and received (counted by this supervisor's scaler).",
		}, []string{"direction"}),
	}
	for _, d := range []string{tallySent, tallyReceived} {
		m.tallies.WithLabelValues(d)
	}
	for _, q := range []string{broker.ReadQ, broker.WriteQ} {
		m.rpcTimeouts[q] = timeouts.WithLabelValues(q)
	}
	for _, d := range []string{scaleUp, scaleDown, scaleSame} {
		m.scaleDecisions.WithLabelValues(d)
	}
	reg.MustRegister(timeouts, m.scaleReads, m.scaleDecisions, m.tallies, restarts.vec,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rideshare_desired_slaves",
			Help: "Slaves the supervisor holds besides the master (the scaler's last decision).",
		}, func() float64 { return float64(o.sup.Desired()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rideshare_orchestrator_supervising",
			Help: "1 while this orchestrator holds the supervision lock (it starts, replaces and drains workers), 0 while it stands by.",
		}, func() float64 {
			if o.sup.Supervising() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "rideshare_failovers_total",
			Help: "Failovers seen since the orchestrator started: the master was lost and another took its place.",
		}, func() float64 { return float64(o.events.count(api.EventFailover)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rideshare_last_failover_duration_seconds",
			Help: "How long the last failover took, from the master's loss to the new master's record (0: none yet).",
		}, func() float64 {
			if e := o.events.failover(); e != nil {
				return e.DurationMS / 1e3
			}
			return 0
		}),
		&eventCounts{j: o.events},
		&workersCollector{o: o})
	return m
}

// rpcTimeout counts one 504 on queue.
func (m *metrics) rpcTimeout(queue string) {
	if c, ok := m.rpcTimeouts[queue]; ok {
		c.Inc()
	}
}

// eventCounts exposes the timeline's counts by kind.
type eventCounts struct{ j *journal }

var eventsDesc = prometheus.NewDesc("rideshare_events_total",
	"Events put on the orchestrator's timeline (GET /api/v1/events), by kind.", []string{"kind"}, nil)

func (c *eventCounts) Describe(ch chan<- *prometheus.Desc) { ch <- eventsDesc }

func (c *eventCounts) Collect(ch chan<- prometheus.Metric) {
	for _, k := range []string{api.EventFailover, api.EventSwitchover, api.EventReplaced, api.EventCrash, api.EventScale, api.EventSupervision} {
		ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, float64(c.j.count(k)), k)
	}
}

// workersCollector reads the supervisor's view of the workers at each
// scrape.
type workersCollector struct{ o *Orchestrator }

var (
	viewUpDesc = prometheus.NewDesc("rideshare_workers_view_up",
		"1 when this scrape could read the workers from the election backend, else 0 (and no worker series).", nil, nil)
	workersDesc = prometheus.NewDesc("rideshare_workers",
		"Workers by role (master, slave) and state (ready, catching_up, draining).", []string{"role", "state"}, nil)
	epochDesc = prometheus.NewDesc("rideshare_master_epoch",
		"The current master's epoch (0 while there is no master).", nil, nil)
	appliedDesc = prometheus.NewDesc("rideshare_worker_applied_seq",
		"The last seq a worker applied, as its election record shows it.", []string{"worker", "role"}, nil)
	lagDesc = prometheus.NewDesc("rideshare_worker_replication_lag",
		"Seqs a worker is behind the master's applied seq (0 for the master and while there is none).", []string{"worker"}, nil)
	catchupDoneDesc = prometheus.NewDesc("rideshare_worker_catchup_done",
		"A catching-up worker's progress: units done (bytes of a snapshot, or seqs replayed).", []string{"worker", "phase", "unit"}, nil)
	catchupTotalDesc = prometheus.NewDesc("rideshare_worker_catchup_target",
		"A catching-up worker's goal: units to do in its phase (the done gauge reaches it).", []string{"worker", "phase", "unit"}, nil)
)

func (c *workersCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{viewUpDesc, workersDesc, epochDesc, appliedDesc, lagDesc, catchupDoneDesc, catchupTotalDesc} {
		ch <- d
	}
}

func (c *workersCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultScrapeTimeout)
	defer cancel()
	v, err := c.o.sup.view(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(viewUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(viewUpDesc, prometheus.GaugeValue, 1)
	var epoch float64
	if v.hasLeader {
		epoch = float64(v.leader.Epoch)
	}
	ch <- prometheus.MustNewConstMetric(epochDesc, prometheus.GaugeValue, epoch)
	// Every role × state, zeros included, so a graph has no gaps.
	counts := map[[2]string]int{}
	for _, w := range v.workers {
		state := stateReady
		switch {
		case w.Draining:
			state = stateDraining
		case !w.Ready:
			state = stateCatchingUp
		}
		counts[[2]string{w.Role, state}]++
		ch <- prometheus.MustNewConstMetric(appliedDesc, prometheus.GaugeValue, float64(w.AppliedSeq), w.ID, w.Role)
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(w.Lag), w.ID)
		if p := w.CatchingUp; p != nil {
			ch <- prometheus.MustNewConstMetric(catchupDoneDesc, prometheus.GaugeValue, float64(p.Done), w.ID, p.Phase, p.Unit)
			ch <- prometheus.MustNewConstMetric(catchupTotalDesc, prometheus.GaugeValue, float64(p.Total), w.ID, p.Phase, p.Unit)
		}
	}
	for _, role := range []string{election.RoleMaster, election.RoleSlave} {
		for _, state := range []string{stateReady, stateCatchingUp, stateDraining} {
			ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(counts[[2]string{role, state}]), role, state)
		}
	}
}

// scaled is the scaler's decision: count it, put a change of the slaves on
// the timeline, and hand it to the supervisor.
func (o *Orchestrator) scaled(reads, slaves int) {
	prev := o.sup.Desired()
	dir := scaleSame
	switch {
	case slaves > prev:
		dir = scaleUp
	case slaves < prev:
		dir = scaleDown
	}
	o.metrics.scaleReads.Set(float64(reads))
	o.metrics.scaleDecisions.WithLabelValues(dir).Inc()
	if dir != scaleSame {
		o.events.add(api.Event{Kind: api.EventScale, Reads: int64(reads), Slaves: slaves,
			Detail: fmt.Sprintf("scale %s: %d reads in %s → %d slaves (was %d)", dir, reads, o.opts.ScaleInterval, slaves, prev)})
	}
	o.sup.SetDesired(slaves)
}
