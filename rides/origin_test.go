package rides

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rideshare/dbaas/api"
)

func TestDefaultOrigin(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	for listen, want := range map[string]string{
		"127.0.0.1:8082":      "http://127.0.0.1:8082",
		"10.0.0.5:80":         "http://10.0.0.5:80",
		"rides.internal:8082": "http://rides.internal:8082",
		"[2001:db8::7]:8082":  "http://[2001:db8::7]:8082",
		"0.0.0.0:8082":        "http://" + host + ":8082",
		"[::]:8082":           "http://" + host + ":8082",
		":8082":               "http://" + host + ":8082",
		"":                    "http://" + host,
	} {
		if got := DefaultOrigin(listen); got != want {
			t.Errorf("DefaultOrigin(%q) = %q, want %q", listen, got, want)
		}
	}
}

// The check of a user carries the configured Origin to the load balancer
// (here an httptest server standing in for it, answering as users would),
// and finds the user in a list that has no size bound.
func TestUserCheckSendsOrigin(t *testing.T) {
	long := strings.Repeat("ü", 100_000)
	var mu sync.Mutex
	var origins []string
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		origins = append(origins, r.Header.Get("Origin"))
		mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != api.RouteUsers {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`["alice", "` + long + `", "bob"]`))
	}))
	defer lb.Close()

	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{UsersURL: lb.URL, Origin: "http://203.0.113.7"}, "http://203.0.113.7"},
		{Config{UsersURL: lb.URL, Listen: "127.0.0.1:8082"}, "http://127.0.0.1:8082"},
	} {
		s := New(c.cfg)
		origins = nil
		for name, want := range map[string]bool{long: true, "bob": true, "carol": false, long[:len(long)-2]: false} {
			got, err := s.userExists(t.Context(), name)
			if err != nil || got != want {
				t.Errorf("userExists(%.20q…) = %v, %v; want %v", name, got, err, want)
			}
		}
		mu.Lock()
		for _, o := range origins {
			if o != c.want {
				t.Errorf("Origin %q arrived, want %q", o, c.want)
			}
		}
		if len(origins) != 4 {
			t.Errorf("%d checks arrived, want 4", len(origins))
		}
		mu.Unlock()
	}
}

// A list that is not one is the users service's failure (502), not "no
// such user".
func TestUserCheckBadList(t *testing.T) {
	for _, body := range []string{`{"a":1}`, `["a", 5]`, `["a"`, `nope`} {
		lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
		s := New(Config{UsersURL: lb.URL})
		if _, err := s.userExists(t.Context(), "a"); err == nil || !strings.Contains(err.Error(), "not a list of names") {
			t.Errorf("answer %s: err = %v, want a users service failure", body, err)
		}
		lb.Close()
	}
}
