package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/replog"
)

// LoadStorage starts the storage plugin name and opens the database cfg
// describes in it (one worker = one storage plugin process). The returned
// Storage's Close and Destroy also end the plugin process.
//
// If the plugin process dies, it is restarted and the same database is opened
// again, and a call that failed because of it is retried once. Every method
// is safe to repeat except Apply of a batch with writes: before repeating
// one, the client reads State, and if the batch was committed by the first
// attempt (State.Seq has reached its last write's Seq and State.Offset its
// Offset) it answers every write from Lookup(e.WriteID) — Redelivered, with
// Conflict or Invalid as recorded; Result{Seq: e.Seq} for a write without
// write id — instead of applying twice.
func LoadStorage(ctx context.Context, name string, cfg storage.Config, opts LoadOptions) (storage.Storage, error) {
	sup, err := newSupervisor(KindStorage, name, opts, func(ctx context.Context, raw any) error {
		return raw.(*storage.GRPCClient).Open(ctx, cfg)
	})
	if err != nil {
		return nil, err
	}
	if err := sup.start(ctx); err != nil {
		return nil, err
	}
	return &storageClient{sup: sup}, nil
}

// storageClient is the restartable host side of a storage plugin.
type storageClient struct {
	sup       *supervisor
	closeOnce sync.Once
	closeErr  error
}

func stOf(inst *instance) *storage.GRPCClient { return inst.raw.(*storage.GRPCClient) }

func (c *storageClient) State(ctx context.Context) (storage.State, error) {
	return call(ctx, c.sup, "State", func(inst *instance) (storage.State, error) { return stOf(inst).State(ctx) }, nil)
}

func (c *storageClient) Apply(ctx context.Context, b storage.Batch) ([]storage.Outcome, error) {
	apply := func(inst *instance) ([]storage.Outcome, error) { return stOf(inst).Apply(ctx, b) }
	return call(ctx, c.sup, "Apply", apply, func(inst *instance) ([]storage.Outcome, error) {
		return c.applyAgain(ctx, inst, b)
	})
}

// applyAgain repeats an Apply on a restarted plugin only if the first
// attempt did not commit. State is written in the batch's transaction, so a
// batch with writes committed iff State.Seq has reached its last write's Seq
// and State.Offset its Offset; each write is then answered from its record
// instead of being applied twice. A batch without writes only moves Epoch
// and Offset: it is simply repeated.
func (c *storageClient) applyAgain(ctx context.Context, inst *instance, b storage.Batch) ([]storage.Outcome, error) {
	if len(b.Writes) == 0 {
		return stOf(inst).Apply(ctx, b)
	}
	st, err := stOf(inst).State(ctx)
	if err != nil {
		return nil, err
	}
	last := b.Writes[len(b.Writes)-1].Seq
	if st.Seq < last || st.Offset < b.Offset {
		return stOf(inst).Apply(ctx, b)
	}
	outs := make([]storage.Outcome, len(b.Writes))
	for i, e := range b.Writes {
		if outs[i], err = recorded(ctx, stOf(inst), e); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// recorded is the outcome of a committed write as its record tells it
// (Redelivered, since it was applied by the first attempt). A write without
// write id has no record: Result{Seq: e.Seq} is all that is known of it.
func recorded(ctx context.Context, st storage.Storage, e replog.Entry) (storage.Outcome, error) {
	if e.WriteID == "" {
		return storage.Outcome{Result: storage.Result{Seq: e.Seq}}, nil
	}
	r, ok, err := st.Lookup(ctx, e.WriteID)
	var inv *dbapi.InvalidError
	switch {
	case errors.Is(err, storage.ErrConstraint):
		return storage.Outcome{Result: r, Conflict: true, Redelivered: true}, nil
	case errors.As(err, &inv):
		return storage.Outcome{Result: r, Invalid: inv.Msg, Redelivered: true}, nil
	case err != nil:
		return storage.Outcome{}, fmt.Errorf("look up write %q (seq %d) of a committed batch: %w", e.WriteID, e.Seq, err)
	case !ok:
		return storage.Outcome{Result: storage.Result{Seq: e.Seq}}, nil
	}
	return storage.Outcome{Result: r, Redelivered: true}, nil
}

type lookup struct {
	r  storage.Result
	ok bool
}

func (c *storageClient) Lookup(ctx context.Context, writeID string) (storage.Result, bool, error) {
	l, err := call(ctx, c.sup, "Lookup", func(inst *instance) (lookup, error) {
		r, ok, err := stOf(inst).Lookup(ctx, writeID)
		return lookup{r, ok}, err
	}, nil)
	return l.r, l.ok, err
}

func (c *storageClient) Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error) {
	return call(ctx, c.sup, "Read", func(inst *instance) ([]map[string]any, error) { return stOf(inst).Read(ctx, q) }, nil)
}

func (c *storageClient) Hash(ctx context.Context) (string, error) {
	return call(ctx, c.sup, "Hash", func(inst *instance) (string, error) { return stOf(inst).Hash(ctx) }, nil)
}

// Export streams the plugin's snapshot into w. If the plugin dies before
// anything reached w, the restarted plugin exports again; once bytes have
// reached w a repeat would write them twice, so the call fails instead,
// saying that w holds a partial copy to discard.
func (c *storageClient) Export(ctx context.Context, w io.Writer) (storage.State, error) {
	cw := &countingWriter{w: w}
	export := func(inst *instance) (storage.State, error) { return stOf(inst).Export(ctx, cw) }
	return call(ctx, c.sup, "Export", export, func(inst *instance) (storage.State, error) {
		if cw.n > 0 {
			return storage.State{}, fmt.Errorf("%s: Export: the plugin died after %d bytes of the snapshot were written: "+
				"discard them and export again", c.sup.label(), cw.n)
		}
		return export(inst)
	})
}

// Import streams the snapshot r holds into the plugin. If the plugin dies
// before anything was read from r, the restarted plugin imports; after,
// r cannot be read again and the call fails. A dead plugin's transaction
// died with it: nothing was imported unless it had committed, which State
// tells (it is then the snapshot's).
func (c *storageClient) Import(ctx context.Context, r io.Reader) (storage.State, error) {
	cr := &countingReader{r: r}
	imp := func(inst *instance) (storage.State, error) { return stOf(inst).Import(ctx, cr) }
	return call(ctx, c.sup, "Import", imp, func(inst *instance) (storage.State, error) {
		if cr.n > 0 {
			return storage.State{}, fmt.Errorf("%s: Import: the plugin died after %d bytes of the snapshot were sent, "+
				"which cannot be read again: import it again (an Import that did not commit changed nothing)", c.sup.label(), cr.n)
		}
		return imp(inst)
	})
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Close closes the database and ends the plugin process. A plugin that is
// already dead has nothing left open: that is not an error.
func (c *storageClient) Close() error {
	c.closeOnce.Do(func() {
		if inst := c.sup.current(); inst != nil && !inst.dead() {
			if err := stOf(inst).Close(); err != nil && !c.sup.broken(context.Background(), inst, err) {
				c.closeErr = err
			}
		}
		c.sup.close()
	})
	return c.closeErr
}

// Destroy deletes the database (restarting a dead plugin to do it) and ends
// the plugin process.
func (c *storageClient) Destroy(ctx context.Context) error {
	_, err := call(ctx, c.sup, "Destroy", func(inst *instance) (struct{}, error) {
		return struct{}{}, stOf(inst).Destroy(ctx)
	}, nil)
	if err != nil {
		return err
	}
	c.closeOnce.Do(c.sup.close)
	return nil
}
