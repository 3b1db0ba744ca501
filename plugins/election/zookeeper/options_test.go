package zookeeper

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/plugins/election"
)

// TestOptions: the documented option is accepted; an unknown key or a bad
// connect_timeout is refused by ValidateOptions and by New (before it dials),
// naming the option and the plugin.
func TestOptions(t *testing.T) {
	documented := map[string]string{"connect_timeout": "5s"}
	if err := ValidateOptions(documented); err != nil {
		t.Fatalf("documented options %v: %v", documented, err)
	}
	for _, k := range OptionKeys {
		if _, ok := documented[k]; !ok {
			t.Errorf("option %q is accepted but not in docs/configuration.md's list", k)
		}
	}
	if d, err := parseOptions(documented); err != nil || d != 5*time.Second {
		t.Fatalf("connect_timeout 5s: %v, %v", d, err)
	}
	if d, err := parseOptions(nil); err != nil || d != DefaultConnectTimeout {
		t.Fatalf("no options: %v, %v; want the default %v", d, err, DefaultConnectTimeout)
	}
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"session_timeout": "2s"}, `election "zookeeper": unknown option "session_timeout" (accepted: connect_timeout)`},
		{map[string]string{"connect_timeout": "soon"}, `election "zookeeper": option connect_timeout="soon": want a positive duration`},
		{map[string]string{"connect_timeout": "-1s"}, `election "zookeeper": option connect_timeout="-1s": want a positive duration`},
	} {
		if err := ValidateOptions(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateOptions(%v) = %v, want %s", tc.opts, err, tc.want)
		}
		// Servers nobody listens on: only the options check can answer at once.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		e, err := New(ctx, election.Config{Servers: []string{"127.0.0.1:1"}, Root: "/x", Options: tc.opts}, nil)
		cancel()
		if err == nil {
			e.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with options %v: err = %v, want %s", tc.opts, err, tc.want)
		}
	}
}
