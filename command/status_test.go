package command

import (
	"testing"

	"github.com/rideshare/dbaas/api"
)

func TestCatchUpText(t *testing.T) {
	for _, c := range []struct {
		p    *api.CatchUp
		want string
	}{
		{nil, "-"},
		{&api.CatchUp{Phase: "loading_snapshot", Unit: "bytes", Done: 4_200_000, Total: 10_000_000, Rate: 8_100_000, ETASeconds: 0.7},
			"loading snapshot 4.2/10.0 MB at 8.1 MB/s, ETA 1s"},
		{&api.CatchUp{Phase: "replaying", Unit: "seq", Done: 1200, Total: 5000, Rate: 3000, ETASeconds: 1.3},
			"replaying seq 1200/5000 at 3000/s, ETA 1s"},
		{&api.CatchUp{Phase: "replaying", Unit: "seq", Done: 10, Total: 0}, "replaying seq 10/0 at 0/s, ETA ?"},
	} {
		if got := catchUpText(c.p); got != c.want {
			t.Errorf("catchUpText(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}
