package pluginhost

import (
	"context"
	"sync"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// LoadStorage starts the storage plugin name and opens the database cfg
// describes in it (one worker = one storage plugin process). The returned
// Storage's Close and Destroy also end the plugin process.
//
// If the plugin process dies, it is restarted and the same database is opened
// again, and a call that failed because of it is retried once. Every method
// is safe to repeat except Apply: before repeating one, the client
// reads State, and if the entry was committed by the first attempt (State.Seq
// has reached e.Seq at offset) it answers from Lookup(e.WriteID) — or
// Result{Seq: e.Seq} when the write id has no record — instead of applying
// twice.
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

func (c *storageClient) Apply(ctx context.Context, e dbapi.Entry, offset int64) (storage.Result, error) {
	apply := func(inst *instance) (storage.Result, error) { return stOf(inst).Apply(ctx, e, offset) }
	return call(ctx, c.sup, "Apply", apply, func(inst *instance) (storage.Result, error) {
		return c.applyAgain(ctx, inst, e, offset)
	})
}

// applyAgain repeats an Apply on a restarted plugin only if the first
// attempt did not commit: State is written in the entry's transaction, so
// State.Seq >= e.Seq at offset means it did, and the recorded result of
// e.WriteID answers.
func (c *storageClient) applyAgain(ctx context.Context, inst *instance, e dbapi.Entry, offset int64) (storage.Result, error) {
	st, err := stOf(inst).State(ctx)
	if err != nil {
		return storage.Result{}, err
	}
	if e.Seq > 0 && st.Seq >= e.Seq && st.Offset >= offset {
		if e.WriteID != "" {
			r, ok, err := stOf(inst).Lookup(ctx, e.WriteID)
			if err != nil || ok {
				return r, err
			}
		}
		return storage.Result{Seq: e.Seq}, nil
	}
	return stOf(inst).Apply(ctx, e, offset)
}

func (c *storageClient) Advance(ctx context.Context, epoch uint64, offset int64) error {
	_, err := call(ctx, c.sup, "Advance", func(inst *instance) (struct{}, error) {
		return struct{}{}, stOf(inst).Advance(ctx, epoch, offset)
	}, nil)
	return err
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
