package orchestrator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// Bad input gets a 4xx JSON error that names the problem; nothing stored
// changes and every process stays up (invariant 5).
func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	forEachBackend(t, testBadInputIsRejectedAndChangesNothing)
}

func testBadInputIsRejectedAndChangesNothing(t *testing.T, config string) {
	s := stacktest.Start(t, stacktest.Options{Config: config})
	res, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": "alice", "password": "x"}})
	if code != 200 {
		t.Fatalf("seed write: %d", code)
	}
	before := s.WaitConverged(10 * time.Second)
	pids := s.Workers()

	huge := `{"table":"users","op":"insert","values":{"username":"` + strings.Repeat("a", httpjson.MaxDBBodyBytes+1) + `","password":"x"}}`
	inject := `x'); DROP TABLE users; --`
	cases := []struct {
		name, path, body string
		code             int
		mention          string
	}{
		{"malformed JSON", api.RouteDBWrite, `{"table":"users",`, 400, "malformed JSON"},
		{"not an object", api.RouteDBWrite, `[1,2]`, 400, "malformed JSON"},
		{"trailing data", api.RouteDBWrite, `{"table":"users","op":"delete"} {}`, 400, "trailing"},
		{"unknown field", api.RouteDBWrite, `{"table":"users","op":"delete","sql":"DROP"}`, 400, "sql"},
		{"unknown table", api.RouteDBWrite, `{"table":"accounts","op":"insert","values":{"a":1}}`, 400, "accounts"},
		{"unknown column", api.RouteDBWrite, `{"table":"users","op":"insert","values":{"username":"b","password":"x","admin":true}}`, 400, "admin"},
		{"unknown op", api.RouteDBWrite, `{"table":"users","op":"upsert","values":{"username":"b"}}`, 400, "upsert"},
		{"missing op", api.RouteDBWrite, `{"table":"users"}`, 400, "op"},
		{"wrong type text", api.RouteDBWrite, `{"table":"users","op":"insert","values":{"username":5,"password":"x"}}`, 400, "username"},
		{"wrong type int", api.RouteDBWrite, `{"table":"rides","op":"insert","values":{"created_by":"alice","timestamp":"t","source":"one","destination":2}}`, 400, "source"},
		{"fraction for int", api.RouteDBWrite, `{"table":"rides","op":"insert","values":{"created_by":"alice","timestamp":"t","source":1.5,"destination":2}}`, 400, "source"},
		{"generated id given", api.RouteDBWrite, `{"table":"rides","op":"insert","values":{"ride_id":7,"created_by":"alice","timestamp":"t","source":1,"destination":2}}`, 400, "ride_id"},
		{"missing column", api.RouteDBWrite, `{"table":"users","op":"insert","values":{"username":"b"}}`, 400, "password"},
		{"injection in where column", api.RouteDBWrite, `{"table":"users","op":"delete","where":{"username = username; --":"x"}}`, 400, "unknown column"},
		{"huge body", api.RouteDBWrite, huge, 413, "larger than"},
		{"read unknown column", api.RouteDBRead, `{"table":"users","columns":["password","secret"]}`, 400, "secret"},
		{"read bad order", api.RouteDBRead, `{"table":"users","order_by":"username; DROP TABLE users"}`, 400, "order_by"},
		{"read negative limit", api.RouteDBRead, `{"table":"users","limit":-1}`, 400, "limit"},
		{"read wrong where type", api.RouteDBRead, `{"table":"rides","where":{"ride_id":"1 OR 1=1"}}`, 400, "ride_id"},
		{"read malformed", api.RouteDBRead, `nope`, 400, "malformed"},
	}
	for _, c := range cases {
		var e dbapi.ErrorBody
		code, raw := s.DoRaw("POST", c.path, c.body, &e)
		if code != c.code || !strings.Contains(e.Error, c.mention) {
			t.Errorf("%s: %d %s, want %d with an error mentioning %q", c.name, code, truncate(raw), c.code, c.mention)
		}
	}
	if code, _ := s.DoRaw("GET", api.RouteDBWrite, nil, nil); code != 405 {
		t.Errorf("GET db/write: %d, want 405", code)
	}

	// Injection text is only ever a value: stored verbatim, tables intact.
	r2, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "insert", Values: map[string]any{"username": inject, "password": inject}})
	if code != 200 {
		t.Fatalf("insert injection text as a value: %d", code)
	}
	got, _ := s.Read(dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": inject}, MinSeq: r2.Seq})
	if len(got.Rows) != 1 || got.Rows[0]["password"] != inject {
		t.Fatalf("injection text not stored verbatim: %+v", got.Rows)
	}
	if _, code := s.Write(dbapi.WriteRequest{Table: "users", Op: "delete", Where: map[string]any{"username": inject}}); code != 200 {
		t.Fatalf("delete injection row: %d", code)
	}
	after := s.WaitConverged(10 * time.Second)
	if after != before {
		t.Fatalf("content changed: hash %s before, %s after", before, after)
	}
	if now := s.Workers(); len(now) != len(pids) || now[0].PID != pids[0].PID || now[1].PID != pids[1].PID {
		t.Fatalf("workers changed: before %+v, after %+v", pids, now)
	}
	_ = res
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
