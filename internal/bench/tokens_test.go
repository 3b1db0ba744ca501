package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/internal/bench"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// Against a stack with both tokens, the benchmark measures with them (the
// admin token for its admin calls, the DB token for reads and writes), and
// without the DB token it fails, saying so, instead of measuring 401s.
func TestBenchWithTokens(t *testing.T) {
	const adminTok, dbTok = "bench-adm-3e9", "bench-db-71c"
	s := stacktest.Start(t, stacktest.Options{Slaves: 1, Vars: []string{"admin_token=" + adminTok, "db_token=" + dbTok}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := bench.Options{Addr: s.URL, AMQPURL: s.Config.AMQPURL, Scenarios: []string{bench.Read, bench.Write},
		Duration: 100 * time.Millisecond, Warmup: -1, Levels: []int{1}, Token: adminTok, DBToken: dbTok}
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		t.Fatalf("bench with both tokens: %v", err)
	}
	for _, sc := range opts.Scenarios {
		if r, ok := rep.Find(sc, 1); !ok || r.Errors != 0 || r.Requests == 0 {
			t.Errorf("%s @1 with tokens: %+v, want requests and no errors", sc, r)
		}
	}
	opts.DBToken = ""
	if _, err := bench.Run(ctx, opts); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bench with the admin token only: %v, want a 401", err)
	}
}
