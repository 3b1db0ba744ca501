package bench

// Preload writes a history before the drills: rows users, then updates over
// them, so that a replacement's time to ready can be measured against the
// size of the data and the length of the log (invariant 8).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rideshare/dbaas/dbapi"
)

// PreloadOptions size the history.
type PreloadOptions struct {
	Addr        string
	Rows        int // users inserted
	Updates     int // updates of their passwords, round-robin over the rows
	Concurrency int
	Logf        func(format string, args ...any)
	// Token and DBToken are the bearer tokens, as in Options.
	Token, DBToken string
}

// Preload writes the history through the DB API and returns how long it took.
func Preload(ctx context.Context, opts PreloadOptions) (time.Duration, error) {
	conc := max(opts.Concurrency, 1)
	o := Options{Addr: opts.Addr, Concurrency: conc, Token: opts.Token, DBToken: opts.DBToken}
	o.defaults()
	s := newSession(o, conc)
	defer s.http.CloseIdleConnections()
	start := time.Now()
	run := func(what string, n int, req func(i int) dbapi.WriteRequest) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, conc)
		for g := 0; g < conc; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					if _, err := s.client.Write(ctx, req(i)); err != nil {
						errs <- fmt.Errorf("%s %d: %w", what, i, err)
						return
					}
					if i > 0 && i%50000 == 0 && opts.Logf != nil {
						opts.Logf("preload: %d %s written (%s)", i, what, time.Since(start).Round(time.Second))
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	user := func(i int) string { return fmt.Sprintf("preload-%07d", i) }
	if err := run("inserts", opts.Rows, func(i int) dbapi.WriteRequest {
		return dbapi.WriteRequest{Table: "users", Op: dbapi.OpInsert, Values: map[string]any{"username": user(i), "password": "p0"}}
	}); err != nil {
		return time.Since(start), err
	}
	if opts.Rows > 0 {
		if err := run("updates", opts.Updates, func(i int) dbapi.WriteRequest {
			return dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"password": fmt.Sprintf("p%d", i)},
				Where: map[string]any{"username": user(i % opts.Rows)}}
		}); err != nil {
			return time.Since(start), err
		}
	}
	return time.Since(start), nil
}
