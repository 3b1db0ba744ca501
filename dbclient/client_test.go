package dbclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rideshare/dbaas/dbapi"
)

// scripted is an orchestrator stand-in answering each call with the next
// status of its script (the last one repeats) and recording the bodies.
type scripted struct {
	statuses []int
	answer   string
	calls    atomic.Int32
	bodies   chan string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.calls.Add(1)) - 1
	b, _ := io.ReadAll(r.Body)
	select {
	case s.bodies <- r.URL.Path + " " + string(b):
	default:
	}
	st := s.statuses[min(n, len(s.statuses)-1)]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	if st >= 300 {
		json.NewEncoder(w).Encode(dbapi.ErrorBody{Error: "scripted failure " + http.StatusText(st)})
		return
	}
	io.WriteString(w, s.answer)
}

func newScripted(t *testing.T, answer string, statuses ...int) (*scripted, *Client) {
	t.Helper()
	s := &scripted{statuses: statuses, answer: answer, bodies: make(chan string, 100)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, New(srv.URL, WithBackoff(time.Millisecond), WithTimeout(5*time.Second))
}

func TestReadRetriesOn503And504(t *testing.T) {
	s, c := newScripted(t, `{"rows":[{"ride_id":7,"created_by":"alice"}],"seq":3}`, 503, 504, 200)
	res, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "rides"})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got := s.calls.Load(); got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}
	if id, ok := res.Rows[0]["ride_id"].(int64); !ok || id != 7 {
		t.Errorf("ride_id = %#v, want int64 7", res.Rows[0]["ride_id"])
	}
	if res.Rows[0]["created_by"] != "alice" {
		t.Errorf("created_by = %#v", res.Rows[0]["created_by"])
	}
}

func TestReadGivesUpAfterAttempts(t *testing.T) {
	s, c := newScripted(t, "", 503)
	_, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"})
	if !errors.Is(err, ErrUnavailable) || StatusOf(err) != 503 {
		t.Fatalf("err = %v, want unavailable 503", err)
	}
	if !strings.Contains(err.Error(), "scripted failure") {
		t.Errorf("error %q does not carry the server's message", err)
	}
	if got := s.calls.Load(); got != DefaultAttempts {
		t.Errorf("calls = %d, want %d", got, DefaultAttempts)
	}
}

func TestWriteRetriesOn503ButNot504(t *testing.T) {
	s, c := newScripted(t, `{"seq":9,"rows_affected":1,"id":4}`, 503, 200)
	res, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "rides", Op: "insert"})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if s.calls.Load() != 2 || res.ID == nil || *res.ID != 4 || res.Seq != 9 {
		t.Errorf("calls=%d res=%+v", s.calls.Load(), res)
	}

	s, c = newScripted(t, `{"seq":9,"rows_affected":1}`, 504, 200)
	_, err = c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"})
	if StatusOf(err) != 504 || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want 504", err)
	}
	if got := s.calls.Load(); got != 1 {
		t.Errorf("a write answered 504 was resent: %d calls", got)
	}
}

func TestWriteRetriesWhenConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	c := New("http://"+addr, WithBackoff(50*time.Millisecond), WithAttempts(20))
	s := &scripted{statuses: []int{200}, answer: `{"seq":1,"rows_affected":1}`, bodies: make(chan string, 10)}
	go func() {
		time.Sleep(150 * time.Millisecond)
		l2, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv := &http.Server{Handler: s}
		t.Cleanup(func() { srv.Close() })
		srv.Serve(l2)
	}()
	if _, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"}); err != nil {
		t.Fatalf("write after the orchestrator came up: %v", err)
	}
	if s.calls.Load() != 1 {
		t.Errorf("calls = %d, want 1", s.calls.Load())
	}
}

func TestTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   error
	}{{400, ErrBadInput}, {413, ErrBadInput}, {409, ErrConflict}} {
		s, c := newScripted(t, "", tc.status)
		_, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"})
		if !errors.Is(err, tc.kind) || StatusOf(err) != tc.status {
			t.Errorf("status %d: err = %v, want %v", tc.status, err, tc.kind)
		}
		if s.calls.Load() != 1 {
			t.Errorf("status %d was retried", tc.status)
		}
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Msg, "scripted failure") {
			t.Errorf("status %d: message not kept: %v", tc.status, err)
		}
	}
}

func TestReadsCarryHighestWriteSeq(t *testing.T) {
	s, c := newScripted(t, `{"seq":41,"rows_affected":1,"rows":[]}`, 200)
	c.Observe(40)
	if _, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"}); err != nil {
		t.Fatal(err)
	}
	c.Observe(12) // never lowers
	<-s.bodies
	if _, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"}); err != nil {
		t.Fatal(err)
	}
	body := <-s.bodies
	if !strings.HasPrefix(body, "/api/v1/db/read ") || !strings.Contains(body, `"min_seq":41`) {
		t.Errorf("read body = %s, want min_seq 41", body)
	}
	if _, err := c.DeleteAll(context.Background(), "rides"); err != nil {
		t.Fatal(err)
	}
	body = <-s.bodies
	if body != `/api/v1/db/write {"table":"rides","op":"delete"}` {
		t.Errorf("delete-all body = %s", body)
	}
}

func TestCallTimeoutBoundsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // lets the server notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	c := New(srv.URL, WithTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("call took %v despite a 200ms timeout", d)
	}
}
