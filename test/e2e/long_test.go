package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/internal/httpjson"
	"github.com/rideshare/dbaas/plugins/storage/storagetest"
)

// users lists the users through the load balancer (none: empty).
func (e *env) users(t *testing.T) []string {
	t.Helper()
	a := e.gw(t, "GET", "/api/v1/users", nil)
	if a.status == 204 {
		return nil
	}
	var names []string
	a.want(t, 200, "").decode(t, &names)
	return names
}

// The original assignment tests "extremely long strings/numbers": names and
// values of any length up to the request body limit are stored and
// answered intact; a number too big for an id is a clear 4xx (never a 5xx);
// bad input changes nothing.
func TestLongNamesAndValues(t *testing.T) {
	e := newEnv(t, startStack(t))
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			e.reset(t)
			f(t)
		})
	}
	// Incompressible 100,000-character names, with multi-byte runes and
	// characters JSON, HTML and URLs escape; the two differ in their last one.
	long := storagetest.LongText(11, storagetest.LongTextChars)
	long = strings.ReplaceAll(long, "/", "-") // a name travels in a URL path
	other := long[:len(long)-1] + "!"

	run("100,000-character usernames through the gateway", func(t *testing.T) {
		e.addUser(t, long)
		e.addUser(t, other)
		e.addUser(t, "alice")
		names := e.users(t)
		if len(names) != 3 || !slices.Contains(names, long) || !slices.Contains(names, other) {
			t.Fatalf("users list has %d names, want alice and both long names intact", len(names))
		}
		e.gw(t, "PUT", "/api/v1/users", map[string]string{"username": long, "password": password("x")}).wantError(t, 400, "already exists")

		// Rides created and joined by long names keep them whole.
		id := e.addRide(t, long, future, 1, 2)
		e.join(t, id, other).want(t, 200, `{}`)
		e.join(t, id, other).wantError(t, 400, "already joined")
		var d struct {
			CreatedBy string   `json:"created_by"`
			Users     []string `json:"users"`
		}
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, "").decode(t, &d)
		if d.CreatedBy != long || len(d.Users) != 1 || d.Users[0] != other {
			t.Fatalf("ride %d: created_by %d bytes, users %d: not the long names intact", id, len(d.CreatedBy), len(d.Users))
		}
		var list []struct{ Username string }
		e.gw(t, "GET", "/api/v1/rides?source=1&destination=2", nil).want(t, 200, "").decode(t, &list)
		if len(list) != 1 || list[0].Username != long {
			t.Fatalf("upcoming rides: %d, want the long creator's one intact", len(list))
		}

		// Deleted by name in the URL path, percent-encoded.
		e.gw(t, "DELETE", "/api/v1/users/"+url.PathEscape(long), nil).want(t, 200, `{}`)
		e.gw(t, "DELETE", "/api/v1/users/"+url.PathEscape(long), nil).wantError(t, 400, "no such user")
		if names := e.users(t); len(names) != 2 || slices.Contains(names, long) {
			t.Fatalf("after the delete: %d users, want alice and the other long name", len(names))
		}
		if n := e.rows(t, "rides", nil); n != 0 {
			t.Fatalf("the long user's ride survived them: %d rides", n)
		}
	})

	run("a username as long as the body limit allows", func(t *testing.T) {
		// '<' is one byte in the request and six (\u003c) once the service
		// encodes it again for the DB API: the longest name a body can
		// carry still reaches the database whole. Sized so that the ride's
		// body, the longer of the two that carry it, is exactly the limit.
		rideBody := func(name string) string {
			return `{"created_by":"` + name + `","timestamp":"` + future + `","source":3,"destination":4}`
		}
		n := httpjson.MaxBodyBytes - len(rideBody(""))
		name := strings.Repeat("<", n-1) + "x"
		if len(rideBody(name)) != httpjson.MaxBodyBytes {
			t.Fatalf("ride body of %d bytes, want exactly the limit %d", len(rideBody(name)), httpjson.MaxBodyBytes)
		}
		e.gw(t, "PUT", "/api/v1/users", `{"username":"`+name+`","password":"`+password("edge")+`"}`).want(t, 201, `{}`)
		if names := e.users(t); len(names) != 1 || names[0] != name {
			t.Fatalf("users list: %d names, want the %d-byte one intact", len(names), len(name))
		}
		e.gw(t, "POST", "/api/v1/rides", rideBody(name)+" ").wantError(t, 413, "larger")
		var got struct{ RideID int64 }
		e.gw(t, "POST", "/api/v1/rides", rideBody(name)).want(t, 201, "").decode(t, &got)
		var d struct {
			CreatedBy string `json:"created_by"`
		}
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", got.RideID), nil).want(t, 200, "").decode(t, &d)
		if d.CreatedBy != name {
			t.Fatalf("ride %d: created_by came back as %d bytes, want %d", got.RideID, len(d.CreatedBy), len(name))
		}
		if n := e.rows(t, "rides", nil); n != 1 {
			t.Fatalf("%d rides, want the one (the 413 stored nothing)", n)
		}
	})

	run("bad input with long values changes nothing", func(t *testing.T) {
		e.addUser(t, "alice")
		for _, c := range []struct {
			body map[string]any
			msg  string
		}{
			{map[string]any{"username": long, "password": long}, "password"},
			{map[string]any{"username": long + "/x", "password": password("p")}, "must not contain '/'"},
			{map[string]any{"username": long, "password": password("p"), "x": 1}, "unknown field"},
		} {
			e.gw(t, "PUT", "/api/v1/users", c.body).wantError(t, 400, c.msg)
		}
		e.gw(t, "POST", "/api/v1/rides", map[string]any{"created_by": long, "timestamp": future, "source": 1, "destination": 2}).
			wantError(t, 400, "no such user")
		e.gw(t, "POST", "/api/v1/rides", map[string]any{"created_by": "alice", "timestamp": long, "source": 1, "destination": 2}).
			wantError(t, 400, "timestamp")
		if names := e.users(t); len(names) != 1 || names[0] != "alice" {
			t.Fatalf("users after refused input: %d names, want alice alone", len(names))
		}
		if n := e.rows(t, "rides", nil); n != 0 {
			t.Fatalf("rides after refused input: %d", n)
		}
	})

	run("huge numbers are a clear 4xx", func(t *testing.T) {
		e.addUser(t, "alice")
		id := e.addRide(t, "alice", future, 1, 2)
		huge := "99999999999999999999999"
		digits := strings.Repeat("9", storagetest.LongTextChars)
		for _, area := range []string{huge, "-" + huge, "1e400", digits, "18446744073709551617"} {
			e.gw(t, "POST", "/api/v1/rides", `{"created_by":"alice","timestamp":"`+future+`","source":`+area+`,"destination":2}`).
				wantError(t, 400, "source")
			e.gw(t, "POST", "/api/v1/rides", `{"created_by":"alice","timestamp":"`+future+`","source":1,"destination":"`+area+`"}`).
				wantError(t, 400, "destination")
			e.gw(t, "GET", "/api/v1/rides?source="+area+"&destination=2", nil).wantError(t, 400, "source")
		}
		for _, rid := range []string{huge, digits, "-" + huge} {
			e.gw(t, "GET", "/api/v1/rides/"+rid, nil).want(t, 204, "")
			e.gw(t, "POST", "/api/v1/rides/"+rid, map[string]string{"username": "alice"}).want(t, 204, "")
			e.gw(t, "DELETE", "/api/v1/rides/"+rid, nil).wantError(t, 400, "no such ride")
		}
		e.gw(t, "GET", "/api/v1/rides/count", nil).want(t, 200, `[1]`)
		e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, "")
	})
}
