package command_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/internal/stacktest"
	"github.com/rideshare/dbaas/rides"
)

// A stack started by `rideshare up` with both tokens: the DB API and the
// admin API refuse a caller without the right token (and nothing changes),
// while users and rides (which send the DB token from the same deployment)
// and the CLI (which sends $RIDESHARE_TOKEN) work; the tokens appear on no
// task's command line, in no state file and in no log.
func TestUpWithTokens(t *testing.T) {
	const adminTok, dbTok = "adm-tok-4b1d9c", "db-tok-e07a52"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	u := startUp(t, ctx, "-var", "admin_token="+adminTok, "-var", "db_token="+dbTok)
	up := u.cmd.Process.Pid

	// The DB API: 401 without the DB token, the admin token included.
	write := `{"table":"users","op":"insert","values":{"username":"intruder","password":"p"}}`
	for _, auth := range []string{"", "Bearer wrong-guess", "Basic " + dbTok, "Bearer " + adminTok} {
		wantUnauthorized(t, "POST", upOrchestrator+api.RouteDBWrite, auth, write)
		wantUnauthorized(t, "POST", upOrchestrator+api.RouteDBClear, auth, "{}")
	}
	// The admin API: 401 without the admin token, the DB token included.
	for _, auth := range []string{"", "Bearer " + dbTok} {
		wantUnauthorized(t, "GET", upOrchestrator+api.RouteWorkers, auth, "")
		wantUnauthorized(t, "POST", upOrchestrator+api.RouteCrashMaster, auth, "")
	}
	// The probes stay open.
	var last string
	if !answers(&last, "GET", upOrchestrator+api.RouteLivez, "") {
		t.Errorf("GET /livez without a token: %s", last)
	}

	// Users and rides work through the gateway: they send the DB token.
	const gw = "http://127.0.0.1:18080"
	if !answers(&last, "PUT", gw+"/api/v1/users", `{"username":"tok-alice","password":"3d725109c7e7c0bfb9d709836735b56d943d263f"}`) {
		t.Fatalf("PUT user through the gateway of a stack with tokens: %s", last)
	}
	ride := fmt.Sprintf(`{"created_by":"tok-alice","timestamp":%q,"source":1,"destination":2}`,
		time.Now().Add(24*time.Hour).Format(rides.TimestampLayout))
	if !answers(&last, "POST", gw+"/api/v1/rides", ride) {
		t.Fatalf("POST ride through the gateway of a stack with tokens: %s", last)
	}

	// The CLI sends $RIDESHARE_TOKEN; without it (or with the DB token) it
	// fails, saying which variable to set.
	pidsBefore := cliWorkerList(t, adminTok)
	if out, err := cli(t, adminTok, "status", "-addr", upOrchestrator); err != nil || !strings.Contains(out, "master") {
		t.Fatalf("status with RIDESHARE_TOKEN: %v\n%s", err, out)
	}
	for _, tok := range []string{"", dbTok} {
		for _, args := range [][]string{{"status"}, {"worker", "list"}, {"crash", "master"}} {
			out, err := cli(t, tok, append(args, "-addr", upOrchestrator)...)
			if err == nil || !strings.Contains(out, "401") || !strings.Contains(out, "RIDESHARE_TOKEN") {
				t.Errorf("%s with RIDESHARE_TOKEN=%q: %v, want a 401 naming RIDESHARE_TOKEN:\n%s", strings.Join(args, " "), tok, err, out)
			}
			if strings.Contains(out, dbTok) || strings.Contains(out, adminTok) {
				t.Errorf("%s: the output shows a token:\n%s", strings.Join(args, " "), out)
			}
		}
	}

	// Nothing a refused request asked for happened: no intruder, nothing
	// cleared, no worker killed.
	db := api.NewClient(upOrchestrator, api.WithToken(dbTok), api.WithAttempts(1))
	for user, want := range map[string]int{"intruder": 0, "tok-alice": 1} {
		res, err := db.Read(ctx, dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": user}})
		if err != nil || len(res.Rows) != want {
			t.Errorf("users where username=%s after the refused requests: %v rows, %v; want %d", user, len(res.Rows), err, want)
		}
	}
	if res, err := db.Read(ctx, dbapi.ReadRequest{Table: "rides"}); err != nil || len(res.Rows) != 1 {
		t.Errorf("rides after the refused clears: %+v, %v; want the one ride", res.Rows, err)
	}
	if after := cliWorkerList(t, adminTok); !slices.Equal(after, pidsBefore) {
		t.Errorf("workers %v after refused crashes, were %v", after, pidsBefore)
	}
	if _, err := api.NewClient(upOrchestrator, api.WithToken(adminTok), api.WithAttempts(1)).
		Read(ctx, dbapi.ReadRequest{Table: "users"}); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("a DB read with the admin token: %v, want ErrUnauthorized", err)
	}

	// The tokens travel in the environment: no task's command line, state
	// file or log holds them.
	// Nor does a worker's environment: the orchestrator takes them out of its
	// own once read.
	workers := 0
	for _, p := range descendants(up) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if strings.Contains(string(b), adminTok) || strings.Contains(string(b), dbTok) {
			t.Errorf("process %d has a token on its command line: %s", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
		if args := strings.Split(string(b), "\x00"); len(args) > 1 && args[1] == "worker" {
			workers++
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p))
			if err != nil || strings.Contains(string(env), adminTok) || strings.Contains(string(env), dbTok) {
				t.Errorf("worker %d: environment holds a token (or cannot be read: %v)", p, err)
			}
		}
	}
	if workers < 2 {
		t.Errorf("found %d workers below up, want at least 2", workers)
	}
	// Checked while up runs (its tasks' state files exist) and once it
	// stopped (the logs are complete).
	dataDir := upDataDir(t, u)
	checkFiles := func(when string, want int) {
		checked := 0
		filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".log") || strings.HasSuffix(path, ".json")) {
				return nil
			}
			b, _ := os.ReadFile(path)
			checked++
			if strings.Contains(string(b), adminTok) || strings.Contains(string(b), dbTok) {
				t.Errorf("%s, %s holds a token", when, path)
			}
			return nil
		})
		if checked < want {
			t.Errorf("%s, only %d logs and state files under %s; want at least %d", when, checked, dataDir, want)
		}
	}
	checkFiles("while up runs", 8) // 4 tasks' logs and state files
	u.stop(t, time.Minute)
	checkFiles("after up stopped", 4)
	// The orchestrator logged the refusals (without the tokens, checked above).
	if b, _ := os.ReadFile(filepath.Join(dataDir, "logs", "orchestrator.log")); !strings.Contains(string(b), "refused a request without the right token") {
		t.Errorf("the orchestrator's log does not mention the refused requests")
	}
}

// wantUnauthorized sends a request with the Authorization header auth (""
// none) and checks the 401: a Bearer challenge and a JSON error that does
// not echo what was sent.
func wantUnauthorized(t *testing.T, method, url, auth, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var eb dbapi.ErrorBody
	if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		t.Fatalf("%s %s with %q: %d %s, want 401 {\"error\":…}", method, url, auth, resp.StatusCode, b)
	}
	if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
		t.Errorf("%s %s with %q: WWW-Authenticate %q, want Bearer", method, url, auth, ch)
	}
	if _, cred, _ := strings.Cut(auth, " "); cred != "" && strings.Contains(string(b), cred) {
		t.Errorf("%s %s: the 401 echoes the credentials: %s", method, url, b)
	}
}

// cli runs the CLI with RIDESHARE_TOKEN=token (unset when "").
func cli(t *testing.T, token string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(stacktest.Binary(t), args...)
	env := slices.DeleteFunc(cmd.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "RIDESHARE_TOKEN=") })
	if token != "" {
		env = append(env, "RIDESHARE_TOKEN="+token)
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cliWorkerList is `rideshare worker list` with the admin token.
func cliWorkerList(t *testing.T, token string) []string {
	t.Helper()
	out, err := cli(t, token, "worker", "list", "-addr", upOrchestrator)
	if err != nil {
		t.Fatalf("worker list with RIDESHARE_TOKEN: %v\n%s", err, out)
	}
	pids := strings.Fields(out)
	if len(pids) < 2 {
		t.Fatalf("worker list with RIDESHARE_TOKEN: %q, want at least 2 pids", out)
	}
	return pids
}

// upDataDir is the data directory up printed ("…, data in <dir>").
func upDataDir(t *testing.T, u *upRun) string {
	t.Helper()
	for _, l := range strings.Split(u.output(), "\n") {
		if _, dir, ok := strings.Cut(l, ", data in "); ok {
			return dir
		}
	}
	t.Fatalf("up did not print its data directory:\n%s", u.output())
	return ""
}
