package rides

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
)

// deadServer is a rides server whose database and users service are down.
func deadServer(t *testing.T) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	return New(Config{DB: api.NewClient(dead, api.WithAttempts(1), api.WithTimeout(time.Second)), UsersURL: dead})
}

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	return w
}

func TestFailuresAreJSONAndCounted(t *testing.T) {
	s := deadServer(t)
	h := s.Handler()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/rides/count", "", 503},
		{"GET", "/api/v1/rides/5", "", 503},
		{"POST", "/api/v1/rides", `{"created_by":"a","timestamp":"26-01-2027:00-30-14","source":1,"destination":2}`, 502},
		{"PATCH", "/api/v1/rides/5", "", 405},
		{"GET", "/api/v1/nope", "", 404},
		{"GET", "/healthz", "", 200},
	} {
		w := do(h, c.method, c.path, c.body)
		if w.Code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, w.Code, w.Body, c.status)
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %s: body %q is not JSON", c.method, c.path, w.Body)
		}
	}
	if got := s.Count(); got != 5 {
		t.Errorf("count = %d, want 5 (healthz is not counted)", got)
	}
	w := do(h, "GET", "/api/v1/_count", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[5]" {
		t.Errorf("_count: %d %s", w.Code, w.Body)
	}
}
