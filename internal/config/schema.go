package config

// The HCL schema of a deployment file, as gohcl decodes it, and decode,
// which checks it once and turns it into a Config of typed, defaulted values.

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/orchestrator"
	"github.com/rideshare/dbaas/plugins/election/zookeeper"
	"github.com/rideshare/dbaas/worker"
)

// schema is a deployment file's top level. Each block keeps its Body, so that
// an error can name the line of the attribute it is about.
type schema struct {
	AMQPURL        string `hcl:"amqp_url"`
	AMQPQueueType  string `hcl:"amqp_queue_type,optional"`
	DataDir        string `hcl:"data_dir,optional"`
	PluginDir      string `hcl:"plugin_dir,optional"`
	Stack          string `hcl:"stack,optional"`
	BuiltinPlugins string `hcl:"builtin_plugins,optional"`

	ZooKeeper    zookeeperBlock    `hcl:"zookeeper,block"`
	Runtime      Plugin            `hcl:"runtime,block"`
	Storage      Plugin            `hcl:"storage,block"`
	Election     Plugin            `hcl:"election,block"`
	Orchestrator orchestratorBlock `hcl:"orchestrator,block"`
	Worker       *workerBlock      `hcl:"worker,block"`
	Snapshot     *snapshotBlock    `hcl:"snapshot,block"`
	SyncLog      *syncLogBlock     `hcl:"sync_log,block"`
	Scaling      *scalingBlock     `hcl:"scaling,block"`
	Services     []Service         `hcl:"service,block"`
	Gateway      *Gateway          `hcl:"gateway,block"`

	Body hcl.Body `hcl:",body"`
}

type zookeeperBlock struct {
	Servers        []string `hcl:"servers"`
	Root           string   `hcl:"root"`
	SessionTimeout string   `hcl:"session_timeout,optional"`
	Body           hcl.Body `hcl:",body"`
}

type orchestratorBlock struct {
	ID         string `hcl:"id,optional"`
	Listen     string `hcl:"listen"`
	RPCTimeout string `hcl:"rpc_timeout,optional"`
	// SessionTimeout: "" means zookeeper.session_timeout.
	SessionTimeout string   `hcl:"session_timeout,optional"`
	Slaves         int      `hcl:"slaves,optional"`
	AdminToken     string   `hcl:"admin_token,optional"`
	DBToken        string   `hcl:"db_token,optional"`
	Body           hcl.Body `hcl:",body"`
}

type workerBlock struct {
	MinSeqWait string   `hcl:"min_seq_wait,optional"`
	Prefetch   int      `hcl:"prefetch,optional"`
	BatchSize  int      `hcl:"batch_size,optional"`
	Body       hcl.Body `hcl:",body"`
}

type snapshotBlock struct {
	Interval string   `hcl:"interval,optional"`
	Entries  int      `hcl:"entries,optional"`
	Body     hcl.Body `hcl:",body"`
}

// syncLogBlock is the replication log's retention (see broker.LogRetention):
// sizes like "512MiB", "64MB" or a number of bytes; max_bytes "unbounded"
// keeps every entry; max_age a duration ("" or "0s": none).
type syncLogBlock struct {
	MaxBytes     string   `hcl:"max_bytes,optional"`
	SegmentBytes string   `hcl:"segment_bytes,optional"`
	MaxAge       string   `hcl:"max_age,optional"`
	Body         hcl.Body `hcl:",body"`
}

type scalingBlock struct {
	Interval      string   `hcl:"interval"`
	ReadsPerSlave int      `hcl:"reads_per_slave,optional"`
	MinSlaves     int      `hcl:"min_slaves,optional"`
	MaxSlaves     int      `hcl:"max_slaves,optional"`
	Body          hcl.Body `hcl:",body"`
}

// decode checks every value of f and fills in the defaults. The first
// problem found is the error: "file:line:column: block.attribute: why".
func (f *schema) decode(filename string) (*Config, error) {
	d := &decoder{file: filename}
	c := &Config{
		AMQPURL:        f.AMQPURL,
		DataDir:        f.DataDir,
		PluginDir:      f.PluginDir,
		Stack:          f.Stack,
		BuiltinPlugins: f.BuiltinPlugins,
		ZooKeeper:      ZooKeeper{Servers: f.ZooKeeper.Servers, Root: f.ZooKeeper.Root},
		Runtime:        f.Runtime,
		Storage:        f.Storage,
		Election:       f.Election,
		Orchestrator:   Orchestrator{Listen: f.Orchestrator.Listen},
		Services:       f.Services,
		Gateway:        f.Gateway,
		File:           filename,
	}
	if _, err := broker.SplitURLs(c.AMQPURL); err != nil {
		d.fail(f.Body, "amqp_url", "amqp_url", "%v", err)
	}
	qt, err := broker.ParseQueueType(f.AMQPQueueType)
	if err != nil {
		d.fail(f.Body, "amqp_queue_type", "amqp_queue_type", "%v", err)
	}
	c.QueueType = qt
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Stack == "" {
		c.Stack = DefaultStack
	}
	switch c.BuiltinPlugins {
	case "":
		c.BuiltinPlugins = BuiltinsInProcess
	case BuiltinsInProcess, BuiltinsSubprocess:
	default:
		d.fail(f.Body, "builtin_plugins", "builtin_plugins", "%q is not %q or %q", c.BuiltinPlugins, BuiltinsInProcess, BuiltinsSubprocess)
	}

	zk := f.ZooKeeper
	c.ZooKeeper.SessionTimeout = d.duration(zk.Body, "zookeeper", "session_timeout", zk.SessionTimeout, zookeeper.DefaultSessionTimeout)

	o := f.Orchestrator
	c.Orchestrator.ID = orchestrator.DefaultID
	if o.ID != "" {
		if err := orchestrator.CheckID(o.ID); err != nil {
			d.fail(o.Body, "id", "orchestrator.id", "%v", err)
		}
		c.Orchestrator.ID = o.ID
	}
	c.Orchestrator.RPCTimeout = d.duration(o.Body, "orchestrator", "rpc_timeout", o.RPCTimeout, orchestrator.DefaultRPCTimeout)
	c.Orchestrator.SessionTimeout = d.duration(o.Body, "orchestrator", "session_timeout", o.SessionTimeout, c.ZooKeeper.SessionTimeout)
	slaves := d.count(o.Body, "orchestrator", "slaves", o.Slaves, 0)
	c.Orchestrator.AdminToken = d.token(o.Body, "orchestrator", "admin_token", o.AdminToken)
	c.Orchestrator.DBToken = d.token(o.Body, "orchestrator", "db_token", o.DBToken)

	w := f.Worker
	if w == nil {
		w = &workerBlock{}
	}
	c.Worker = Worker{
		MinSeqWait: d.duration(w.Body, "worker", "min_seq_wait", w.MinSeqWait, worker.DefaultMinSeqWait),
		Prefetch:   d.count(w.Body, "worker", "prefetch", w.Prefetch, worker.DefaultPrefetch),
		BatchSize:  d.count(w.Body, "worker", "batch_size", w.BatchSize, worker.DefaultBatchSize),
	}

	sn := f.Snapshot
	if sn == nil {
		sn = &snapshotBlock{}
	}
	c.Snapshot = Snapshot{
		Interval: d.duration(sn.Body, "snapshot", "interval", sn.Interval, worker.DefaultSnapshotInterval),
		Entries:  uint64(d.count(sn.Body, "snapshot", "entries", sn.Entries, worker.DefaultSnapshotEntries)),
	}

	if f.SyncLog != nil {
		c.SyncLog = d.syncLog(f.SyncLog)
	}

	sc := f.Scaling
	if sc == nil {
		sc = &scalingBlock{}
	}
	c.Scaling = Scaling{
		Interval:      d.duration(sc.Body, "scaling", "interval", sc.Interval, orchestrator.DefaultScaleInterval),
		ReadsPerSlave: d.count(sc.Body, "scaling", "reads_per_slave", sc.ReadsPerSlave, orchestrator.DefaultReadsPerSlave),
		MinSlaves:     d.count(sc.Body, "scaling", "min_slaves", sc.MinSlaves, orchestrator.DefaultMinSlaves),
		MaxSlaves:     d.count(sc.Body, "scaling", "max_slaves", sc.MaxSlaves, orchestrator.DefaultMaxSlaves),
	}
	if d.err == nil && c.Scaling.MaxSlaves < c.Scaling.MinSlaves {
		d.fail(sc.Body, "max_slaves", "scaling", "max_slaves (%d) is less than min_slaves (%d)", c.Scaling.MaxSlaves, c.Scaling.MinSlaves)
	}
	for _, svc := range c.Services {
		d.origin(svc)
	}
	c.Orchestrator.Slaves = slaves
	if slaves == 0 {
		c.Orchestrator.Slaves = c.Scaling.MinSlaves
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// decoder keeps the first error of a decode.
type decoder struct {
	file string
	err  error
}

// fail records an error about attr of body (or, when attr is not set there,
// body itself), as "file:line:column: what: why".
func (d *decoder) fail(body hcl.Body, attr, what, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s: %s", d.where(body, attr), what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) where(body hcl.Body, attr string) string {
	if b, ok := body.(*hclsyntax.Body); ok && b != nil {
		if a, ok := b.Attributes[attr]; ok {
			return pos(a.SrcRange)
		}
		if p := pos(b.SrcRange); p != "" {
			return p
		}
	}
	return d.file
}

// duration parses attribute attr of block: a positive Go duration, or def
// when it is not set.
func (d *decoder) duration(body hcl.Body, block, attr, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.fail(body, attr, block+"."+attr, "%q is not a positive duration (like \"2s\" or \"2m\")", s)
		return def
	}
	return v
}

// count checks attribute attr of block: not negative; 0 (not set) is def.
func (d *decoder) count(body hcl.Body, block, attr string, n, def int) int {
	if n < 0 {
		d.fail(body, attr, block+"."+attr, "%d must not be negative", n)
		return def
	}
	if n == 0 {
		return def
	}
	return n
}

// token checks an access token attribute: "" (open) or a value a client can
// send in "Authorization: Bearer <token>", which holds no whitespace or
// control character. The message never repeats the value: it is a secret.
func (d *decoder) token(body hcl.Body, block, attr, s string) string {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			d.fail(body, attr, block+"."+attr, "holds whitespace or a control character (a bearer token cannot)")
			return ""
		}
	}
	return s
}
