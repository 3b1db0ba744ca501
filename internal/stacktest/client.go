package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/wiring"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// API is the typed client of the stack's orchestrator as tests want it: one
// attempt (a test sees every failure), 30 s per call, no automatic min_seq
// (a read carries the min_seq its request names), and the stack's admin and
// DB tokens, if it has any.
func (s *Stack) API() *api.Client {
	return api.NewClient(s.URL, api.WithHTTPClient(httpClient), api.WithAttempts(1),
		api.WithTimeout(30*time.Second), api.WithReadYourWrites(false),
		api.WithToken(s.Config.Orchestrator.AdminToken), api.WithDBToken(s.Config.Orchestrator.DBToken))
}

// status is the HTTP status of a call through API: 200 on success, 0 when
// the request did not get an answer.
func status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return api.StatusOf(err)
}

// Do sends a raw JSON request to the orchestrator, for what the typed client
// does not send (malformed bodies, wrong methods, a status to check), with
// the stack's token for the path, if it has one, and decodes the answer into
// out (when non-nil and the body is JSON). It returns the status, or 0 when
// the request did not get an answer.
func (s *Stack) Do(method, path string, body any, out any) int {
	code, _ := s.DoRaw(method, path, body, out)
	return code
}

// DoRaw is Do that also returns the raw answer body.
func (s *Stack) DoRaw(method, path string, body any, out any) (int, []byte) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, _ := json.Marshal(b)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	tok := s.Config.Orchestrator.AdminToken
	if strings.HasPrefix(path, api.RouteDBPrefix) {
		tok = s.Config.Orchestrator.DBToken
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(out)
	}
	return resp.StatusCode, raw
}

// Write is POST /api/v1/db/write through API; the int is the HTTP status.
func (s *Stack) Write(req dbapi.WriteRequest) (dbapi.WriteResult, int) {
	res, err := s.API().Write(context.Background(), req)
	return res, status(err)
}

// Read is POST /api/v1/db/read through API; the int is the HTTP status.
func (s *Stack) Read(req dbapi.ReadRequest) (dbapi.ReadResult, int) {
	res, err := s.API().Read(context.Background(), req)
	return res, status(err)
}

// Hashes opens every live worker's database beside it and returns each
// content hash by worker id.
func (s *Stack) Hashes() map[string]string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]string{}
	for _, w := range s.Workers() {
		st, err := peek.Storage(ctx, s.Config.Storage.Name, wiring.StorageConfig(s.Config, w.ID))
		if err != nil {
			s.t.Fatalf("open storage of %s: %v", w.ID, err)
		}
		h, err := st.Hash(ctx)
		st.Close()
		if err != nil {
			s.t.Fatalf("hash storage of %s: %v", w.ID, err)
		}
		out[w.ID] = h
	}
	return out
}

// WaitConverged waits until every live worker has the same content hash
// and returns it.
func (s *Stack) WaitConverged(timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		hs := s.Hashes()
		distinct := map[string]bool{}
		for _, h := range hs {
			distinct[h] = true
		}
		if len(distinct) == 1 && len(hs) > 1 {
			for _, h := range hs {
				return h
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("replicas did not converge in %s: %v", timeout, hs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Dump reads a whole table through the DB API, in key order.
func (s *Stack) Dump(table string, minSeq uint64) []map[string]any {
	s.t.Helper()
	t, _ := dbapi.LookupTable(table)
	var rows []map[string]any
	for i := 0; i < 50; i++ {
		res, code := s.Read(dbapi.ReadRequest{Table: table, MinSeq: minSeq}) // no limit: every row
		if code == 200 {
			rows = res.Rows
			break
		}
		time.Sleep(200 * time.Millisecond)
		if i == 49 {
			s.t.Fatalf("dump %s: status %d", table, code)
		}
	}
	key := t.PrimaryKey[0]
	sort.Slice(rows, func(i, j int) bool { return lessAny(rows[i][key], rows[j][key]) })
	return rows
}

func lessAny(a, b any) bool {
	switch x := a.(type) {
	case int64:
		y, _ := b.(int64)
		return x < y
	case string:
		y, _ := b.(string)
		return x < y
	}
	return false
}
