package plugins_test

import (
	"testing"

	"github.com/rideshare/dbaas/plugins"
)

func TestCheckOptions(t *testing.T) {
	accepted := []string{"url", "max_open_conns"}
	if err := plugins.CheckOptions("storage", "postgres", map[string]string{"url": "x", "max_open_conns": "2"}, accepted); err != nil {
		t.Fatalf("known keys refused: %v", err)
	}
	if err := plugins.CheckOptions("storage", "sqlite", nil, nil); err != nil {
		t.Fatalf("no options refused: %v", err)
	}
	for _, tc := range []struct {
		opts     map[string]string
		accepted []string
		want     string
	}{
		{map[string]string{"url": "x", "urll": "y"}, accepted,
			`storage "postgres": unknown option "urll" (accepted: max_open_conns, url)`},
		{map[string]string{"b": "", "a": ""}, accepted,
			`storage "postgres": unknown options "a", "b" (accepted: max_open_conns, url)`},
		{map[string]string{"path": "x"}, nil,
			`storage "postgres": unknown option "path" (accepted: none)`},
	} {
		err := plugins.CheckOptions("storage", "postgres", tc.opts, tc.accepted)
		if err == nil || err.Error() != tc.want {
			t.Errorf("CheckOptions(%v) = %v, want %s", tc.opts, err, tc.want)
		}
	}
}
