package command_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `rideshare up -var rides_origin=…`: the users service sees that Origin on
// rides' check of a user, which comes through the load balancer (users logs
// each request's Origin at debug level).
func TestUpRidesOriginReachesUsers(t *testing.T) {
	const origin = "http://203.0.113.7"
	t.Setenv("RIDESHARE_LOG_LEVEL", "debug") // the tasks inherit it
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	u := startUp(t, ctx, "-var", "rides_origin="+origin)

	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/api/v1/users", `{"username":"origincheck","password":"3d725109c7e7c0bfb9d709836735b56d943d263f"}`},
		{"POST", "/api/v1/rides", `{"created_by":"origincheck","timestamp":"01-01-2099:00-00-10","source":1,"destination":2}`},
	} {
		req, _ := http.NewRequestWithContext(ctx, c.method, "http://127.0.0.1:18080"+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s through the gateway: %v", c.method, c.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("%s %s through the gateway: %d, want 201", c.method, c.path, resp.StatusCode)
		}
	}

	// up names its data directory; the users task logs to logs/users.log there.
	var dataDir string
	for _, l := range strings.Split(u.output(), "\n") {
		if i := strings.Index(l, ", data in "); strings.HasPrefix(l, "rideshare up: ") && i > 0 {
			dataDir = strings.TrimSpace(l[i+len(", data in "):])
		}
	}
	if dataDir == "" {
		t.Fatalf("up printed no data directory:\n%s", u.output())
	}
	usersLog := filepath.Join(dataDir, "logs", "users.log")
	seen := func() bool {
		b, _ := os.ReadFile(usersLog)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "method=GET") && strings.Contains(l, "path=/api/v1/users ") && strings.Contains(l, "origin="+origin) {
				return true
			}
		}
		return false
	}
	if !eventually(30*time.Second, seen) {
		b, _ := os.ReadFile(usersLog)
		t.Fatalf("users never logged GET /api/v1/users with origin=%s; %s:\n%s", origin, usersLog, b)
	}
	u.stop(t, time.Minute)
}
