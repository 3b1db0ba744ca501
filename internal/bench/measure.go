package bench

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// One measurement: c callers sending one scenario's requests for a budget,
// and the percentiles of what they saw.

// Budget is how long one measurement lasts: N requests in all, or, when N is
// 0, until Duration has passed.
type Budget struct {
	N        int
	Duration time.Duration
}

// op is one request of a scenario.
type op func(ctx context.Context) error

// Measure runs scenario with c concurrent callers for the budget.
func (s *Session) Measure(ctx context.Context, scenario string, c int, b Budget) (Result, error) {
	fn, err := s.op(scenario)
	if err != nil {
		return Result{}, err
	}
	if c <= 0 {
		c = 1
	}
	res := Result{Scenario: scenario, Concurrency: c}
	var (
		remaining = int64(b.N)
		deadline  time.Time
		mu        sync.Mutex
		all       []time.Duration
		wg        sync.WaitGroup
	)
	start := time.Now()
	if b.N <= 0 {
		deadline = start.Add(b.Duration)
	}
	var counter atomic.Int64
	counter.Store(remaining)
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			errs, first := 0, ""
			for {
				if b.N > 0 {
					if counter.Add(-1) < 0 {
						break
					}
				} else if !time.Now().Before(deadline) {
					break
				}
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				err := fn(ctx)
				d := time.Since(t0)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			res.Errors += errs
			if res.FirstError == "" {
				res.FirstError = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	summarize(&res, all)
	return res, nil
}

func summarize(res *Result, lat []time.Duration) {
	res.Requests = len(lat)
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	res.Mean = sum / time.Duration(len(lat))
	res.P50 = percentile(lat, 0.50)
	res.P90 = percentile(lat, 0.90)
	res.P99 = percentile(lat, 0.99)
	res.Max = lat[len(lat)-1]
	if res.Elapsed > 0 {
		res.PerSec = float64(len(lat)) / res.Elapsed.Seconds()
	}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}
