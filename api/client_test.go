package api

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
// status of its script (the last one repeats) and recording each request as
// "METHOD path body".
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
	case s.bodies <- r.Method + " " + r.URL.Path + " " + string(b):
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

// fast makes c's retries quick.
func fast(c *Client) *Client {
	c.backoff = time.Millisecond
	return c
}

func newScripted(t *testing.T, answer string, statuses ...int) (*scripted, *Client) {
	t.Helper()
	s := &scripted{statuses: statuses, answer: answer, bodies: make(chan string, 100)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, fast(NewClient(srv.URL, WithTimeout(5*time.Second)))
}

func TestNewClientBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8083":         "http://127.0.0.1:8083",
		"http://127.0.0.1:8083/": "http://127.0.0.1:8083",
		"https://db.example":     "https://db.example",
	} {
		if got := NewClient(in).BaseURL(); got != want {
			t.Errorf("NewClient(%q).BaseURL() = %q, want %q", in, got, want)
		}
	}
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

func TestWriteNotResentAfterBrokenConnection(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the request arrived; its fate is unknown to the client
		}
	}))
	defer srv.Close()
	c := fast(NewClient(srv.URL))
	_, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"})
	if err == nil || StatusOf(err) != 0 || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want a transport error", err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("a write with a broken connection was resent: %d calls", got)
	}
	calls.Store(0)
	if _, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"}); err == nil {
		t.Fatal("read answered by a broken connection succeeded")
	}
	if got := calls.Load(); got != DefaultAttempts {
		t.Errorf("read calls = %d, want %d (reads are resent)", got, DefaultAttempts)
	}
}

func TestWriteRetriesWhenConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	c := NewClient("http://"+addr, WithAttempts(20))
	c.backoff = 50 * time.Millisecond
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

// A non-2xx answer is an *Error with the status and the server's message;
// the kinds match by status.
func TestStatusToError(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   error // nil: none of the kinds
		calls  int32 // of a write
	}{
		{400, ErrBadInput, 1},
		{413, ErrBadInput, 1},
		{409, ErrConflict, 1},
		{404, nil, 1},
		{500, nil, 1},
		{502, ErrUnavailable, 1},
		{503, ErrUnavailable, DefaultAttempts},
		{504, ErrUnavailable, 1},
	} {
		s, c := newScripted(t, "", tc.status)
		_, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"})
		if StatusOf(err) != tc.status {
			t.Errorf("status %d: StatusOf(%v) = %d", tc.status, err, StatusOf(err))
		}
		for _, k := range []error{ErrBadInput, ErrConflict, ErrUnavailable} {
			if errors.Is(err, k) != (k == tc.kind) {
				t.Errorf("status %d: errors.Is(err, %v) = %v", tc.status, k, !(k == tc.kind))
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Msg != "scripted failure "+http.StatusText(tc.status) {
			t.Errorf("status %d: message not kept: %v", tc.status, err)
		}
		if !strings.Contains(err.Error(), `db write insert on "users"`) {
			t.Errorf("status %d: error %q does not name the call", tc.status, err)
		}
		if got := s.calls.Load(); got != tc.calls {
			t.Errorf("status %d: %d calls, want %d", tc.status, got, tc.calls)
		}
		if want := map[bool]int{true: 503, false: 500}[tc.kind == ErrUnavailable]; HTTPStatus(err) != want {
			t.Errorf("status %d: HTTPStatus = %d, want %d", tc.status, HTTPStatus(err), want)
		}
	}
}

// Without an {"error":…} body the message is the body itself, or the status.
func TestErrorMessageWithoutErrorBody(t *testing.T) {
	for body, want := range map[string]string{"upstream exploded\n": "upstream exploded", "": "418 I'm a teapot"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, body)
		}))
		_, err := NewClient(srv.URL).Workers(context.Background())
		srv.Close()
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusTeapot || e.Msg != want {
			t.Errorf("body %q: err = %#v, want message %q", body, err, want)
		}
	}
}

func TestReadsCarryHighestWriteSeq(t *testing.T) {
	s, c := newScripted(t, `{"seq":41,"rows_affected":1,"rows":[]}`, 200)
	c.Observe(40)
	if _, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"}); err != nil {
		t.Fatal(err)
	}
	if c.Seq() != 41 {
		t.Errorf("Seq = %d after a write answered seq 41", c.Seq())
	}
	c.Observe(12) // never lowers
	<-s.bodies
	if _, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"}); err != nil {
		t.Fatal(err)
	}
	body := <-s.bodies
	if !strings.HasPrefix(body, "POST "+RouteDBRead+" ") || !strings.Contains(body, `"min_seq":41`) {
		t.Errorf("read body = %s, want min_seq 41", body)
	}
	// A request's own higher min_seq wins.
	if _, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users", MinSeq: 99}); err != nil {
		t.Fatal(err)
	}
	if body := <-s.bodies; !strings.Contains(body, `"min_seq":99`) {
		t.Errorf("read body = %s, want min_seq 99", body)
	}
	if _, err := c.DeleteAll(context.Background(), "rides"); err != nil {
		t.Fatal(err)
	}
	if body := <-s.bodies; body != "POST "+RouteDBWrite+` {"table":"rides","op":"delete"}` {
		t.Errorf("delete-all body = %s", body)
	}
	if _, err := c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if body := <-s.bodies; body != "POST "+RouteDBClear+" {}" {
		t.Errorf("clear body = %s", body)
	}
}

func TestReadYourWritesOff(t *testing.T) {
	s := &scripted{statuses: []int{200}, answer: `{"seq":41,"rows_affected":1,"rows":[]}`, bodies: make(chan string, 10)}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := NewClient(srv.URL, WithReadYourWrites(false))
	if _, err := c.Write(context.Background(), dbapi.WriteRequest{Table: "users", Op: "insert"}); err != nil {
		t.Fatal(err)
	}
	<-s.bodies
	if _, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"}); err != nil {
		t.Fatal(err)
	}
	if body := <-s.bodies; strings.Contains(body, "min_seq") {
		t.Errorf("read body = %s, want no min_seq with read-your-writes off", body)
	}
	if c.Seq() != 41 {
		t.Errorf("Seq = %d, want 41 (still recorded)", c.Seq())
	}
}

// hanging is a server that answers nothing until the client hangs up; it
// counts the requests that reached it.
func hanging(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.ReadAll(r.Body) // lets the server notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestCallTimeoutBoundsRetries(t *testing.T) {
	srv, _ := hanging(t)
	c := NewClient(srv.URL, WithTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := c.Read(context.Background(), dbapi.ReadRequest{Table: "users"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("call took %v despite a 200ms timeout", d)
	}
}

func TestContextCancellation(t *testing.T) {
	srv, calls := hanging(t)
	c := fast(NewClient(srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Read(ctx, dbapi.ReadRequest{Table: "users"})
	if !errors.Is(err, context.Canceled) || StatusOf(err) != 0 {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a cancelled read took %v to return", d)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("a cancelled read was resent: %d calls", got)
	}
	// A context already done sends nothing.
	calls.Store(0)
	if _, err := c.Workers(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Workers with a cancelled context: err = %v", err)
	}
	if _, err := c.Write(ctx, dbapi.WriteRequest{Table: "users", Op: "insert"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context: err = %v", err)
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("%d requests sent with a cancelled context", got)
	}
}

func TestAdminCalls(t *testing.T) {
	var got []string
	mux := http.NewServeMux()
	record := func(answer string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
			io.WriteString(w, answer)
		}
	}
	mux.Handle("GET "+RouteWorkers, record(`[{"id":"w-1","pid":42,"role":"master","applied_seq":7,"ready":true,"started_at":"2027-01-26T14:30:00Z"},`+
		`{"id":"w-2","pid":43,"role":"slave","applied_seq":3,"ready":false,"started_at":"2027-01-26T14:31:00Z",`+
		`"catching_up":{"phase":"replaying","unit":"seq","done":3,"total":7,"rate_per_sec":2,"eta_seconds":2}}]`))
	mux.Handle("GET "+RouteWorkerList, record(`[42,43]`))
	mux.Handle("POST "+RouteCrashMaster, record(`["42"]`))
	mux.HandleFunc("POST "+RouteCrashSlave, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" ")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"error":"there is no slave to crash"}`)
	})
	mux.Handle("GET "+RouteHealthz, record(`{"status":"ok"}`))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := NewClient(srv.URL)
	ctx := context.Background()

	ws, err := c.Workers(ctx)
	if err != nil || len(ws) != 2 || ws[0].PID != 42 || ws[0].Role != "master" || !ws[0].Ready ||
		ws[1].CatchingUp == nil || ws[1].CatchingUp.Total != 7 || ws[1].StartedAt.Minute() != 31 {
		t.Errorf("Workers = %+v, %v", ws, err)
	}
	if pids, err := c.WorkerList(ctx); err != nil || len(pids) != 2 || pids[0] != 42 || pids[1] != 43 {
		t.Errorf("WorkerList = %v, %v", pids, err)
	}
	if pids, err := c.CrashMaster(ctx); err != nil || len(pids) != 1 || pids[0] != "42" {
		t.Errorf("CrashMaster = %v, %v", pids, err)
	}
	_, err = c.CrashSlave(ctx)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "there is no slave to crash") {
		t.Errorf("CrashSlave: err = %v, want 409 with the server's message", err)
	}
	if err := c.Health(ctx); err != nil {
		t.Errorf("Health: %v", err)
	}
	want := []string{"GET " + RouteWorkers + " ", "GET " + RouteWorkerList + " ", "POST " + RouteCrashMaster + " ",
		"POST " + RouteCrashSlave + " ", "GET " + RouteHealthz + " "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

// A crash is not resent after a 504 (its fate is unknown), the admin GETs are.
func TestAdminRetries(t *testing.T) {
	s, c := newScripted(t, `["1"]`, 504, 200)
	if _, err := c.CrashMaster(context.Background()); StatusOf(err) != 504 || s.calls.Load() != 1 {
		t.Errorf("CrashMaster after 504: err = %v, %d calls, want 504 and 1 call", err, s.calls.Load())
	}
	s, c = newScripted(t, `[1]`, 504, 200)
	if pids, err := c.WorkerList(context.Background()); err != nil || len(pids) != 1 || s.calls.Load() != 2 {
		t.Errorf("WorkerList after 504: %v, %v, %d calls", pids, err, s.calls.Load())
	}
}

func TestWithHTTPClient(t *testing.T) {
	var used atomic.Bool
	h := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	_, c := newScripted(t, `{"status":"ok"}`, 200)
	c = NewClient(c.BaseURL(), WithHTTPClient(h))
	if err := c.Health(context.Background()); err != nil || !used.Load() {
		t.Errorf("Health through the given HTTP client: %v, used %v", err, used.Load())
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
