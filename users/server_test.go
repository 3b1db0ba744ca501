package users

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
)

func TestFailuresAreJSONAndCounted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	s := New(Config{DB: api.NewClient(dead, api.WithAttempts(1), api.WithTimeout(time.Second))})
	h := s.Handler()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/users", "", 503},
		{"PUT", "/api/v1/users", `{"username":"a","password":"` + strings.Repeat("f", 40) + `"}`, 503},
		{"PUT", "/api/v1/users", `{"username":"a","password":"short"}`, 400},
		{"POST", "/api/v1/users", "", 405},
		{"DELETE", "/api/v1/users/", "", 404},
		{"DELETE", "/api/v1/_count", "", 200},
		{"GET", "/healthz", "", 200},
		{"POST", api.RouteDBClear, "", 503},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		if w.Code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, w.Code, w.Body, c.status)
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %s: body %q is not JSON", c.method, c.path, w.Body)
		}
	}
	if got := s.Count(); got != 1 { // the DELETE _count reset it; only the clear after it counts
		t.Errorf("count = %d, want 1", got)
	}
}
