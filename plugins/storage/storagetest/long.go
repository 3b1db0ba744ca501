package storagetest

// Contract test of long text: the original assignment tests "extremely long
// strings", so a name or value as long as a request body (docs/api.md) is
// stored and read back intact, as a value and as a key, on every backend.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
)

// LongTextChars is the length, in characters, of the long names and values
// the contract stores.
const LongTextChars = 100_000

// LongText is n characters no backend can shorten by compressing them (a
// compressed index entry could hide a length limit): pseudo-random letters,
// digits and multi-byte runes, the same for the same seed.
func LongText(seed uint64, n int) string {
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ü€𝄞\"\\'<>&;%_")
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func testLongText(t *testing.T, open Opener) {
	s := open(t)
	f := &feeder{t: t, s: s}
	name, value := LongText(1, LongTextChars), LongText(2, LongTextChars)
	// Same length, differs only in the last character: a distinct key.
	twin := name[:len(name)-1] + "!"
	f.must(User(name, value))
	f.must(User(twin, value+"!"))
	ride := f.must(Ride(name, value, 1, 2))
	if ride.ID <= 0 {
		t.Fatalf("ride insert answered no id")
	}
	f.must(Member(ride.ID, twin))

	check := func(what string, q dbapi.ReadRequest, col, want string) {
		t.Helper()
		rows := mustRead(t, s, q)
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows, want 1", what, len(rows))
		}
		got, _ := rows[0][col].(string)
		if got != want {
			t.Fatalf("%s: %s came back as %d bytes (want %d), not intact", what, col, len(got), len(want))
		}
	}
	check("user by its long name", dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": name}}, "password", value)
	check("the twin by its long name", dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": twin}}, "username", twin)
	check("ride by its long creator", dbapi.ReadRequest{Table: "rides", Where: map[string]any{"created_by": name}}, "timestamp", value)
	check("member by its long name", dbapi.ReadRequest{Table: "ride_users", Where: map[string]any{"username": twin}}, "username", twin)

	// The same long key again is a conflict, and changes nothing.
	for _, w := range []dbapi.WriteRequest{
		User(name, "other"),
		Member(ride.ID, twin),
		{Table: "users", Op: dbapi.OpUpdate, Values: map[string]any{"username": name}, Where: map[string]any{"username": twin}},
	} {
		before := snap(t, s)
		o := f.outcome(w)
		wantOutcome(t, fmt.Sprintf("%s %s again", w.Op, w.Table), o, storage.Outcome{Result: storage.Result{Seq: f.seq}, Conflict: true})
		if h := mustHash(t, s); h != before.hash {
			t.Fatalf("%s %s: data changed on a conflict of a long key", w.Op, w.Table)
		}
	}

	// Updated to another long value, and the key itself to a new long one.
	other := LongText(3, LongTextChars)
	wantResult(t, "update the long value", f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
		Values: map[string]any{"password": other}, Where: map[string]any{"username": name}}), storage.Result{Seq: f.seq, RowsAffected: 1})
	check("after the update", dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": name}}, "password", other)
	renamed := LongText(4, LongTextChars)
	wantResult(t, "rename to another long key", f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpUpdate,
		Values: map[string]any{"username": renamed}, Where: map[string]any{"username": twin}}), storage.Result{Seq: f.seq, RowsAffected: 1})
	check("after the rename", dbapi.ReadRequest{Table: "users", Where: map[string]any{"username": renamed}}, "password", value+"!")
	wantResult(t, "delete by the long key", f.must(dbapi.WriteRequest{Table: "users", Op: dbapi.OpDelete,
		Where: map[string]any{"username": name}}), storage.Result{Seq: f.seq, RowsAffected: 1})
	if n := count(t, s, "users"); n != 1 {
		t.Fatalf("after the delete: %d users, want 1", n)
	}
}
