package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/rides"
)

func password(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// ts formats a ride time d from now, in the services' time zone.
func ts(d time.Duration) string { return time.Now().Add(d).Format(rides.TimestampLayout) }

var (
	future = ts(365 * 24 * time.Hour)
	later  = ts(400 * 24 * time.Hour)
	past   = ts(-24 * time.Hour)
)

func (e *env) addUser(t *testing.T, name string) {
	t.Helper()
	e.gw(t, "PUT", "/api/v1/users", map[string]string{"username": name, "password": password(name)}).want(t, 201, `{}`)
}

func (e *env) addRide(t *testing.T, by, when string, src, dst int) int64 {
	t.Helper()
	var got struct{ RideID *int64 }
	e.gw(t, "POST", "/api/v1/rides", map[string]any{
		"created_by": by, "timestamp": when, "source": src, "destination": dst,
	}).want(t, 201, "").decode(t, &got)
	if got.RideID == nil || *got.RideID <= 0 {
		t.Fatalf("create ride: no positive rideId")
	}
	return *got.RideID
}

func (e *env) join(t *testing.T, id int64, name string) answer {
	t.Helper()
	return e.gw(t, "POST", fmt.Sprintf("/api/v1/rides/%d", id), map[string]string{"username": name})
}

// rideUsers is the users list of GET /api/v1/rides/{id}.
func (e *env) rideUsers(t *testing.T, id int64) []string {
	t.Helper()
	var d struct{ Users []string }
	e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, "").decode(t, &d)
	return d.Users
}

// rows reads a table directly through the DB API, at a seq that includes
// every write either service has made.
func (e *env) rows(t *testing.T, table string, where map[string]any) int {
	t.Helper()
	e.db.Observe(e.usersDB.Seq())
	e.db.Observe(e.ridesDB.Seq())
	res, err := e.db.Read(context.Background(), dbapi.ReadRequest{Table: table, Where: where})
	if err != nil {
		t.Fatalf("read %s where %v: %v", table, where, err)
	}
	return len(res.Rows)
}

func TestServices(t *testing.T) {
	e := newEnv(t, startStack(t))
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			e.reset(t)
			f(t)
		})
	}

	run("create user", func(t *testing.T) {
		e.gw(t, "PUT", "/api/v1/users", map[string]string{"username": "alice", "password": password("a")}).want(t, 201, `{}`)
		e.gw(t, "PUT", "/api/v1/users", map[string]string{"username": "alice", "password": password("b")}).wantError(t, 400, "already exists")
		upper := strings.ToUpper(password("c"))
		e.gw(t, "PUT", "/api/v1/users", map[string]string{"username": "carol", "password": upper}).want(t, 201, `{}`)
		for _, pw := range []string{"", "abc", password("x")[:39], password("x") + "0", strings.Repeat("g", 40), strings.Repeat("é", 20)} {
			e.gw(t, "PUT", "/api/v1/users", map[string]string{"username": "bob", "password": pw}).wantError(t, 400, "password")
		}
		for body, msg := range map[string]string{
			`{"username":"bob"`: "malformed",
			``:                  "body",
			`[]`:                "malformed",
			`{"username":5,"password":"` + password("") + `"}`:           "malformed",
			`{"username":"bob","password":"` + password("") + `","x":1}`: "unknown field",
			`{"password":"` + password("") + `"}`:                        "username",
			`{"username":"","password":"` + password("") + `"}`:          "username",
		} {
			e.gw(t, "PUT", "/api/v1/users", body).wantError(t, 400, msg)
		}
		huge := `{"username":"bob","password":"` + strings.Repeat("a", 2<<20) + `"}`
		e.gw(t, "PUT", "/api/v1/users", huge).wantError(t, 413, "larger")
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 200, `["alice","carol"]`)
	})

	run("list users", func(t *testing.T) {
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 204, "")
		for _, n := range []string{"zoe", "bob", "alice"} {
			e.addUser(t, n)
		}
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 200, `["alice","bob","zoe"]`)
	})

	run("delete user", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addUser(t, "bob")
		e.gw(t, "DELETE", "/api/v1/users/alice", nil).want(t, 200, `{}`)
		e.gw(t, "DELETE", "/api/v1/users/alice", nil).wantError(t, 400, "no such user")
		e.gw(t, "DELETE", "/api/v1/users/nobody", nil).wantError(t, 400, "no such user")
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 200, `["bob"]`)
		e.gw(t, "DELETE", "/api/v1/users/bob", nil).want(t, 200, `{}`)
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 204, "")
		e.addUser(t, "alice") // the name is free again
	})

	run("deleting a user removes their rides and memberships", func(t *testing.T) {
		for _, n := range []string{"alice", "bob", "carol"} {
			e.addUser(t, n)
		}
		a := e.addRide(t, "alice", future, 1, 2) // bob and carol join
		b := e.addRide(t, "bob", future, 1, 2)   // alice and carol join
		c := e.addRide(t, "carol", past, 3, 4)   // alice joins
		e.join(t, a, "bob").want(t, 200, `{}`)
		e.join(t, a, "carol").want(t, 200, `{}`)
		e.join(t, b, "alice").want(t, 200, `{}`)
		e.join(t, b, "carol").want(t, 200, `{}`)
		e.join(t, c, "alice").want(t, 200, `{}`)

		e.gw(t, "DELETE", "/api/v1/users/alice", nil).want(t, 200, `{}`)

		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", a), nil).want(t, 204, "")
		if n := e.rows(t, "ride_users", map[string]any{"ride_id": a}); n != 0 {
			t.Errorf("ride %d of the deleted creator still has %d memberships", a, n)
		}
		if n := e.rows(t, "ride_users", map[string]any{"username": "alice"}); n != 0 {
			t.Errorf("the deleted user still holds %d memberships", n)
		}
		if got := e.rideUsers(t, b); strings.Join(got, ",") != "carol" {
			t.Errorf("ride %d users = %v, want [carol]", b, got)
		}
		if got := e.rideUsers(t, c); len(got) != 0 {
			t.Errorf("ride %d users = %v, want []", c, got)
		}
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[2]`)
		e.gw(t, "GET", "/api/v1/rides?source=1&destination=2", nil).want(t, 200,
			fmt.Sprintf(`[{"rideId":%d,"username":"bob","timestamp":%q}]`, b, future))
	})

	run("create ride", func(t *testing.T) {
		e.addUser(t, "alice")
		id1 := e.addRide(t, "alice", future, 1, 198)
		var got struct{ RideID int64 }
		e.gw(t, "POST", "/api/v1/rides", map[string]any{
			"created_by": "alice", "timestamp": "26-01-2027:00-30-14", "source": "5", "destination": "7",
		}).want(t, 201, "").decode(t, &got)
		if got.RideID == id1 {
			t.Errorf("two rides got the same id %d", id1)
		}
		var d struct {
			Timestamp           string
			Source, Destination int
		}
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", got.RideID), nil).want(t, 200, "").decode(t, &d)
		if d.Timestamp != "26-01-2027:00-30-14" || d.Source != 5 || d.Destination != 7 {
			t.Errorf("stored ride = %+v", d)
		}

		ride := func(by, when string, src, dst any) map[string]any {
			return map[string]any{"created_by": by, "timestamp": when, "source": src, "destination": dst}
		}
		e.gw(t, "POST", "/api/v1/rides", ride("nobody", future, 1, 2)).wantError(t, 400, "no such user")
		for _, bad := range []string{"", "2027-01-26 14:30:00", "26-01-2027", "31-02-2027:00-30-14",
			"26-13-2027:00-30-14", "26-01-2027:60-30-14", "26-01-2027:00-30-24", "6-1-2027:0-30-14", "26-01-2027:00-30-14x"} {
			e.gw(t, "POST", "/api/v1/rides", ride("alice", bad, 1, 2)).wantError(t, 400, "timestamp")
		}
		for _, a := range []struct {
			src, dst any
			msg      string
		}{
			{0, 2, "source"}, {199, 2, "source"}, {1, 199, "destination"}, {1, -3, "destination"},
			{"abc", 2, "source"}, {1.5, 2, "source"}, {nil, 2, "source"}, {1, nil, "destination"},
			{true, 2, "source"}, {4, 4, "differ"}, {"4", 4, "differ"},
		} {
			e.gw(t, "POST", "/api/v1/rides", ride("alice", future, a.src, a.dst)).wantError(t, 400, a.msg)
		}
		e.gw(t, "POST", "/api/v1/rides", `{"created_by":"alice"`).wantError(t, 400, "malformed")
		e.gw(t, "POST", "/api/v1/rides", `{"created_by":"alice","timestamp":"`+future+`","source":1,"destination":2,"extra":1}`).wantError(t, 400, "unknown field")
		e.gw(t, "POST", "/api/v1/rides", `{"timestamp":"`+future+`","source":1,"destination":2}`).wantError(t, 400, "created_by")
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[2]`)
	})

	run("list upcoming rides", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addUser(t, "bob")
		e.gw(t, "GET", "/api/v1/rides?source=1&destination=2", nil).want(t, 204, "")
		e.addRide(t, "alice", past, 1, 2)         // over: never listed
		r2 := e.addRide(t, "bob", later, 1, 2)    // listed second
		r1 := e.addRide(t, "alice", future, 1, 2) // listed first
		e.addRide(t, "alice", future, 2, 1)       // other direction
		e.addRide(t, "alice", future, 1, 3)       // other destination
		e.gw(t, "GET", "/api/v1/rides?source=1&destination=2", nil).want(t, 200, fmt.Sprintf(
			`[{"rideId":%d,"username":"alice","timestamp":%q},{"rideId":%d,"username":"bob","timestamp":%q}]`,
			r1, future, r2, later))
		e.gw(t, "GET", "/api/v1/rides?source=5&destination=6", nil).want(t, 204, "")
		e.addRide(t, "bob", past, 7, 8)
		e.gw(t, "GET", "/api/v1/rides?source=7&destination=8", nil).want(t, 204, "") // only past rides
		for _, q := range []string{"", "?source=1", "?destination=2", "?source=0&destination=2",
			"?source=1&destination=199", "?source=x&destination=2", "?source=1&destination=1.5", "?source=3&destination=3"} {
			e.gw(t, "GET", "/api/v1/rides"+q, nil).wantError(t, 400, "")
		}
	})

	run("get ride", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addUser(t, "bob")
		e.addUser(t, "carol")
		id := e.addRide(t, "alice", future, 10, 20)
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, fmt.Sprintf(
			`{"rideId":%d,"created_by":"alice","users":[],"timestamp":%q,"source":10,"destination":20}`, id, future))
		e.join(t, id, "carol").want(t, 200, `{}`)
		e.join(t, id, "bob").want(t, 200, `{}`)
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, fmt.Sprintf(
			`{"rideId":%d,"created_by":"alice","users":["bob","carol"],"timestamp":%q,"source":10,"destination":20}`, id, future))
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id+1000), nil).want(t, 204, "")
		e.gw(t, "GET", "/api/v1/rides/abc", nil).want(t, 204, "")
		e.gw(t, "GET", "/api/v1/rides/-1", nil).want(t, 204, "")
	})

	run("join ride", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addUser(t, "bob")
		id := e.addRide(t, "alice", future, 1, 2)
		e.join(t, id, "bob").want(t, 200, `{}`)
		e.join(t, id, "bob").wantError(t, 400, "already joined")
		e.join(t, id, "alice").wantError(t, 400, "created")
		e.join(t, id, "nobody").wantError(t, 400, "no such user")
		e.join(t, id+1000, "bob").want(t, 204, "")
		e.gw(t, "POST", "/api/v1/rides/abc", map[string]string{"username": "bob"}).want(t, 204, "")
		e.gw(t, "POST", fmt.Sprintf("/api/v1/rides/%d", id), `{"username":`).wantError(t, 400, "malformed")
		e.gw(t, "POST", fmt.Sprintf("/api/v1/rides/%d", id), `{}`).wantError(t, 400, "username")
		e.gw(t, "POST", fmt.Sprintf("/api/v1/rides/%d", id), `{"user":"bob"}`).wantError(t, 400, "unknown field")
		if got := e.rideUsers(t, id); strings.Join(got, ",") != "bob" {
			t.Errorf("ride users = %v, want [bob]", got)
		}
	})

	run("delete ride", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addUser(t, "bob")
		id := e.addRide(t, "alice", future, 1, 2)
		keep := e.addRide(t, "bob", future, 1, 2)
		e.join(t, id, "bob").want(t, 200, `{}`)
		e.join(t, keep, "alice").want(t, 200, `{}`)
		e.gw(t, "DELETE", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, `{}`)
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 204, "")
		if n := e.rows(t, "ride_users", map[string]any{"ride_id": id}); n != 0 {
			t.Errorf("deleted ride %d still has %d memberships", id, n)
		}
		e.gw(t, "DELETE", fmt.Sprintf("/api/v1/rides/%d", id), nil).wantError(t, 400, "no such ride")
		e.gw(t, "DELETE", "/api/v1/rides/abc", nil).wantError(t, 400, "no such ride")
		e.join(t, id, "bob").want(t, 204, "")
		if got := e.rideUsers(t, keep); strings.Join(got, ",") != "alice" {
			t.Errorf("the other ride's users = %v, want [alice]", got)
		}
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[1]`)
	})

	run("count rides", func(t *testing.T) {
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[0]`)
		e.addUser(t, "alice")
		for i := 0; i < 3; i++ {
			e.addRide(t, "alice", future, 1, 2)
		}
		e.addRide(t, "alice", past, 1, 2)
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[4]`)
	})

	run("per-service clear", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addUser(t, "bob")
		id := e.addRide(t, "alice", future, 1, 2)
		e.join(t, id, "bob").want(t, 200, `{}`)

		e.gw(t, "POST", api.RouteDBClear, nil).want(t, 200, `{}`) // the LB sends it to rides
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[0]`)
		if n := e.rows(t, "ride_users", nil); n != 0 {
			t.Errorf("rides clear left %d memberships", n)
		}
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 200, `["alice","bob"]`)

		e.addRide(t, "alice", future, 1, 2)
		e.call(t, "POST", e.usersURL+api.RouteDBClear, nil).want(t, 200, `{}`)
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 204, "")
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[1]`)
	})

	run("_count is exact", func(t *testing.T) {
		// users: 4 counted requests, one of them made by rides.
		e.addUser(t, "alice")                                                         // 1
		e.gw(t, "PUT", "/api/v1/users", `{"username":"alice"}`).wantError(t, 400, "") // 2: failed, still counted
		e.gw(t, "GET", "/api/v1/users", nil).want(t, 200, `["alice"]`)                // 3
		// rides: 5 counted requests.
		e.addRide(t, "alice", future, 1, 2)                                      // rides 1, users 4
		e.gw(t, "GET", "/api/v1/rides/99999", nil).want(t, 204, "")              // rides 2
		e.gw(t, "PUT", "/api/v1/rides", nil).wantError(t, 405, "")               // rides 3
		e.gw(t, "GET", "/api/v1/nothing-here", nil).wantError(t, 404, "")        // rides 4
		e.gw(t, "POST", "/api/v1/rides", `{"created_by":`).wantError(t, 400, "") // rides 5
		e.call(t, "GET", e.usersURL+"/healthz", nil).want(t, 200, "")            // not counted
		e.gw(t, "GET", "/api/v1/_count", nil).want(t, 200, `[5]`)
		e.gw(t, "GET", "/api/v1/_count", nil).want(t, 200, `[5]`) // _count is never counted
		e.call(t, "GET", e.usersURL+"/api/v1/_count", nil).want(t, 200, `[4]`)
		e.call(t, "POST", e.usersURL+"/api/v1/_count", nil).wantError(t, 405, "") // not counted either
		e.call(t, "GET", e.usersURL+"/api/v1/_count", nil).want(t, 200, `[4]`)
		e.gw(t, "DELETE", "/api/v1/_count", nil).want(t, 200, `{}`)
		e.gw(t, "GET", "/api/v1/_count", nil).want(t, 200, `[0]`)
		e.call(t, "DELETE", e.usersURL+"/api/v1/_count", nil).want(t, 200, `{}`)
		e.call(t, "GET", e.usersURL+"/api/v1/_count", nil).want(t, 200, `[0]`)
	})

	run("rides asks users through the load balancer with an Origin", func(t *testing.T) {
		e.addUser(t, "alice")
		e.addRide(t, "alice", future, 1, 2)
		e.mu.Lock()
		defer e.mu.Unlock()
		var checks []seen
		for _, s := range e.origins {
			if s.method == "GET" && s.path == "/api/v1/users" {
				checks = append(checks, s)
			}
		}
		if len(checks) != 1 {
			t.Fatalf("users saw %d user checks, want 1: %+v", len(checks), e.origins)
		}
		if checks[0].origin != ridesOrigin {
			t.Errorf("Origin = %q, want the configured %q", checks[0].origin, ridesOrigin)
		}
		if checks[0].forwardedFor == "" {
			t.Errorf("the user check did not come through the load balancer (no X-Forwarded-For)")
		}
	})

	run("wrong method is 405", func(t *testing.T) {
		for _, c := range []struct{ method, url, allow string }{
			{"POST", e.gateway + "/api/v1/users", "GET, PUT"},
			{"DELETE", e.gateway + "/api/v1/users", "GET, PUT"},
			{"GET", e.gateway + "/api/v1/users/alice", "DELETE"},
			{"PUT", e.gateway + "/api/v1/rides", "GET, POST"},
			{"PUT", e.gateway + "/api/v1/rides/1", "DELETE, GET, POST"},
			{"DELETE", e.gateway + "/api/v1/rides/count", "GET"},
			{"POST", e.gateway + "/api/v1/rides/count", "GET"},
			{"GET", e.gateway + api.RouteDBClear, "POST"},
			{"POST", e.gateway + "/api/v1/_count", "DELETE, GET"},
			{"GET", e.usersURL + api.RouteDBClear, "POST"},
		} {
			a := e.call(t, c.method, c.url, nil)
			a.wantError(t, http.StatusMethodNotAllowed, "not allowed")
			if a.header.Get("Allow") != c.allow {
				t.Errorf("%s %s: Allow %q, want %q", c.method, c.url, a.header.Get("Allow"), c.allow)
			}
		}
	})

	run("read your writes", func(t *testing.T) {
		// Each step reads what the step before wrote, on whichever replica answers.
		for i := 0; i < 20; i++ {
			u, v := fmt.Sprintf("u%02d", i), fmt.Sprintf("v%02d", i)
			e.addUser(t, u)
			e.addUser(t, v)
			id := e.addRide(t, u, future, 1+i%100, 101+i%90)
			e.join(t, id, v).want(t, 200, `{}`)
			if got := e.rideUsers(t, id); len(got) != 1 || got[0] != v {
				t.Fatalf("ride %d users = %v right after %s joined", id, got, v)
			}
			e.gw(t, "DELETE", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, `{}`)
			e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 204, "")
		}
	})

	// Last: it stops the users service.
	run("a target that is down is a 502", func(t *testing.T) {
		e.addUser(t, "alice")
		e.usersSrv.Close()
		e.gw(t, "GET", "/api/v1/users", nil).wantError(t, 502, e.usersURL)
		e.gw(t, "POST", "/api/v1/rides", map[string]any{
			"created_by": "alice", "timestamp": future, "source": 1, "destination": 2,
		}).wantError(t, 502, "users")
	})
}
