package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/plugins/storage/postgres"
	"github.com/rideshare/dbaas/plugins/storage/sqlite"
	"github.com/rideshare/dbaas/plugins/storage/storagetest"
)

// DefaultURL is the test server unless RIDESHARE_PG_URL names another.
const DefaultURL = "postgres://rideshare:rideshare@127.0.0.1:5432/postgres?sslmode=disable"

func serverURL() string {
	if u := os.Getenv("RIDESHARE_PG_URL"); u != "" {
		return u
	}
	return DefaultURL
}

func config(id string) storage.Config {
	return storage.Config{WorkerID: id, Options: map[string]string{postgres.OptionURL: serverURL()}}
}

// requirePostgres fails (never skips) when the server is unreachable.
func requirePostgres(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := postgres.Exists(ctx, config("probe")); err != nil {
		tb.Fatalf("PostgreSQL is required for these tests and is not usable at RIDESHARE_PG_URL (default %s): %v", DefaultURL, err)
	}
}

// uniqueID names a worker database no other test run uses.
func uniqueID(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "test_" + prefix + "_" + hex.EncodeToString(b)
}

func open(tb testing.TB, id string) (storage.Storage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return postgres.Open(ctx, config(id))
}

func fresh(tb testing.TB) storage.Storage {
	tb.Helper()
	s, err := open(tb, uniqueID("c"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Destroy(context.Background()); err != nil {
			tb.Errorf("Destroy: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	requirePostgres(t)
	storagetest.Run(t, func(t *testing.T) storage.Storage { return fresh(t) })
}

func TestSnapshotContract(t *testing.T) {
	requirePostgres(t)
	storagetest.RunSnapshot(t, func(t *testing.T) storage.Storage { return fresh(t) })
}

func TestLifecycle(t *testing.T) {
	requirePostgres(t)
	storagetest.RunLifecycle(t, uniqueID("l"), storagetest.Lifecycle{
		Open: func(t *testing.T, id string) (storage.Storage, error) { return open(t, id) },
		Exists: func(t *testing.T, id string) bool {
			ok, err := postgres.Exists(context.Background(), config(id))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		},
	})
}

// TestDestroyWithOpenConnections: Destroy drops the database even while
// another client is still connected to it.
func TestDestroyWithOpenConnections(t *testing.T) {
	requirePostgres(t)
	id := uniqueID("force")
	s, err := open(t, id)
	if err != nil {
		t.Fatal(err)
	}
	other, err := open(t, id) // a second pool on the same database
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.State(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(context.Background()); err != nil {
		t.Fatalf("Destroy with another connection open: %v", err)
	}
	if ok, err := postgres.Exists(context.Background(), config(id)); err != nil || ok {
		t.Fatalf("database still listed in pg_database (%v, %v)", ok, err)
	}
}

// connect opens a pool on the worker database id as the URL's role, or as
// the role of another server URL.
func connect(t *testing.T, serverURL, id string) *sql.DB {
	t.Helper()
	name, err := postgres.DatabaseName(id)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(serverURL), pgdriver.WithDatabase(name)))
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("connect to %s (run scripts/services.sh, which creates the roles the tests use): %v", name, err)
	}
	return db
}

// TestDestroyTerminatesOurSessions: Destroy, as the non-superuser role of the
// URL, drops the database although sessions of that role are busy in it:
// one in the middle of a long statement, one idle inside a transaction that
// holds locks.
func TestDestroyTerminatesOurSessions(t *testing.T) {
	requirePostgres(t)
	id := uniqueID("busy")
	s, err := open(t, id)
	if err != nil {
		t.Fatal(err)
	}
	db := connect(t, serverURL(), id)
	var super, signal bool
	if err := db.QueryRow("SELECT rolsuper, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') FROM pg_roles WHERE rolname = current_user").Scan(&super, &signal); err != nil {
		t.Fatal(err)
	}
	t.Logf("role is superuser: %v, member of pg_signal_backend: %v", super, signal)

	idle, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Rollback() //nolint:errcheck
	if _, err := idle.Exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	sleeping := make(chan error, 1)
	go func() {
		_, err := db.Exec("SELECT pg_sleep(60)")
		sleeping <- err
	}()
	waitForSessions(t, db, id, 2)

	start := time.Now()
	if err := s.Destroy(context.Background()); err != nil {
		t.Fatalf("Destroy with busy sessions of our role: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Destroy took %v", d)
	}
	if ok, err := postgres.Exists(context.Background(), config(id)); err != nil || ok {
		t.Fatalf("database still listed in pg_database (%v, %v)", ok, err)
	}
	select {
	case err := <-sleeping:
		if err == nil {
			t.Fatal("the long statement was not terminated")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long statement still runs")
	}
}

// peerURL is the tests' second role, which scripts/services.sh creates: the
// rideshare role is not a member of it, so it may not end its sessions.
const peerURL = "postgres://rideshare_peer:rideshare_peer@127.0.0.1:5432/postgres?sslmode=disable"

// TestDestroyWaitsForAnotherRole: a session Destroy may not terminate (an
// autovacuum worker in production; here a session of rideshare_peer, or of
// the role of RIDESHARE_PG_ADMIN_URL when set) does not make Destroy fail: it
// waits until the session leaves. Before, DROP DATABASE … WITH (FORCE) failed
// at once with "must be a member of the role whose process is being
// terminated or member of pg_signal_backend".
func TestDestroyWaitsForAnotherRole(t *testing.T) {
	requirePostgres(t)
	admin := os.Getenv("RIDESHARE_PG_ADMIN_URL")
	if admin == "" {
		admin = peerURL // scripts/services.sh creates this role
	}
	id := uniqueID("foreign")
	s, err := open(t, id)
	if err != nil {
		t.Fatal(err)
	}
	other := connect(t, admin, id)
	if a, b := currentUser(t, other), currentUser(t, connect(t, serverURL(), id)); a == b {
		t.Fatalf("RIDESHARE_PG_ADMIN_URL must name another role than the test role %s", b)
	}
	leaving := make(chan error, 1)
	go func() { // holds a session for 7 s: longer than one DROP waits by itself
		_, err := other.Exec("SELECT pg_sleep(7)")
		other.Close()
		leaving <- err
	}()
	waitForSessions(t, other, id, 1)
	if err := s.Destroy(context.Background()); err != nil {
		t.Fatalf("Destroy while another role's session is on the database: %v", err)
	}
	if err := <-leaving; err != nil {
		t.Fatalf("the other role's session was disturbed: %v", err)
	}
	if ok, err := postgres.Exists(context.Background(), config(id)); err != nil || ok {
		t.Fatalf("database still listed in pg_database (%v, %v)", ok, err)
	}
}

func currentUser(t *testing.T, db *sql.DB) string {
	t.Helper()
	var u string
	if err := db.QueryRow("SELECT current_user").Scan(&u); err != nil {
		t.Fatal(err)
	}
	return u
}

// waitForSessions waits until n sessions besides db's own query run on the
// worker database id.
func waitForSessions(t *testing.T, db *sql.DB, id string, n int) {
	t.Helper()
	name, _ := postgres.DatabaseName(id)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int
		err := db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name).Scan(&got)
		if err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions on %s (%v), want %d", got, name, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSameHashAsSQLite: equal data hashes alike on both backends.
func TestSameHashAsSQLite(t *testing.T) {
	requirePostgres(t)
	pg := fresh(t)
	lite, err := sqlite.Open(context.Background(), storage.Config{WorkerID: "w", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Destroy(context.Background()) //nolint:errcheck
	writes := []dbapi.WriteRequest{
		storagetest.User("Zed", "p"), storagetest.User("alice", "p"), storagetest.User("Émile", "p"),
		storagetest.User("bob", "p"), storagetest.User("_x", "p"),
		storagetest.Ride("alice", "01-01-2030:00-00-10", 1, 2), storagetest.Ride("bob", "01-01-2030:00-00-11", 3, 4),
		storagetest.Member(2, "Zed"), storagetest.Member(2, "alice"), storagetest.Member(1, "bob"),
	}
	for i, w := range writes {
		for _, s := range []storage.Storage{pg, lite} {
			if o, err := storagetest.ApplyOne(context.Background(), s, storagetest.Entry(uint64(i+1), "", w), int64(i)); err != nil || storagetest.Refused(o) != nil {
				t.Fatal(o, err)
			}
		}
	}
	hp, _ := pg.Hash(context.Background())
	hl, _ := lite.Hash(context.Background())
	if hp != hl || hp == "" {
		t.Fatalf("postgres hash %s, sqlite hash %s", hp, hl)
	}
	// and text orders bytewise on both
	q := dbapi.ReadRequest{Table: "users", Columns: []string{"username"}, OrderBy: "username"}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	rp, _ := pg.Read(context.Background(), q)
	rl, _ := lite.Read(context.Background(), q)
	var a, b []string
	for i := range rp {
		a = append(a, rp[i]["username"].(string))
		b = append(b, rl[i]["username"].(string))
	}
	if strings.Join(a, ",") != strings.Join(b, ",") || strings.Join(a, ",") != "Zed,_x,alice,bob,Émile" {
		t.Fatalf("order by username: postgres %v, sqlite %v", a, b)
	}
}

// TestSnapshotAcrossBackends: a SQLite replica's snapshot seeds a
// PostgreSQL one and back: same Hash, State, rows and records.
func TestSnapshotAcrossBackends(t *testing.T) {
	requirePostgres(t)
	pg := func(t *testing.T) storage.Storage { return fresh(t) }
	lite := func(t *testing.T) storage.Storage {
		s, err := sqlite.Open(context.Background(), storage.Config{WorkerID: "w", DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Destroy(context.Background()) }) //nolint:errcheck
		return s
	}
	t.Run("SQLiteToPostgres", func(t *testing.T) { storagetest.CopyBySnapshot(t, lite, pg) })
	t.Run("PostgresToSQLite", func(t *testing.T) { storagetest.CopyBySnapshot(t, pg, lite) })
}

func TestDatabaseName(t *testing.T) {
	cases := map[string]string{
		"w1":       "rideshare_w1",
		"worker_3": "rideshare_worker_3",
	}
	for id, want := range cases {
		if got, err := postgres.DatabaseName(id); err != nil || got != want {
			t.Fatalf("DatabaseName(%q) = %q, %v; want %q", id, got, err, want)
		}
	}
	a, _ := postgres.DatabaseName("worker-1")
	b, _ := postgres.DatabaseName("worker_1")
	c, _ := postgres.DatabaseName("Worker-1")
	if a == b || a == c || !strings.HasPrefix(a, "rideshare_worker_1_") {
		t.Fatalf("sanitized names collide or look wrong: %q %q %q", a, b, c)
	}
	long, _ := postgres.DatabaseName(strings.Repeat("x", 100))
	if len(long) > 63 {
		t.Fatalf("name longer than 63 bytes: %q", long)
	}
	if _, err := postgres.DatabaseName(""); err == nil {
		t.Fatal("empty id accepted")
	}
	if _, err := postgres.Open(context.Background(), storage.Config{WorkerID: "w"}); err == nil || !strings.Contains(err.Error(), "url") {
		t.Fatalf("missing url: %v", err)
	}
}

// TestOptions: every documented option is accepted; an unknown key, a
// missing url and a bad max_open_conns are refused by ValidateOptions and by
// Open (before connecting), naming the option and the plugin.
func TestOptions(t *testing.T) {
	documented := map[string]string{"url": "postgres://u:p@127.0.0.1:1/postgres", "max_open_conns": "2"}
	if err := postgres.ValidateOptions(documented); err != nil {
		t.Fatalf("documented options %v: %v", documented, err)
	}
	for _, k := range postgres.OptionKeys {
		if _, ok := documented[k]; !ok {
			t.Errorf("option %q is accepted but not in docs/configuration.md's list", k)
		}
	}
	for _, tc := range []struct {
		opts map[string]string
		want []string
	}{
		{map[string]string{"url": serverURL(), "max_conns": "2"},
			[]string{`storage "postgres": unknown option "max_conns" (accepted: max_open_conns, url)`}},
		{map[string]string{}, []string{`storage "postgres"`, `option "url"`, "missing"}},
		{map[string]string{"url": "mysql://x"}, []string{`storage "postgres"`, `option "url"`}},
		{map[string]string{"url": serverURL(), "max_open_conns": "0"}, []string{`storage "postgres"`, `option "max_open_conns"`, "positive integer"}},
	} {
		errs := []error{postgres.ValidateOptions(tc.opts)}
		_, err := postgres.Open(context.Background(), storage.Config{WorkerID: "w", Options: tc.opts})
		errs = append(errs, err)
		for _, err := range errs {
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("options %v: err = %v, want it to contain %s", tc.opts, err, w)
				}
			}
		}
	}
}

// TestUnreachable: a server that is not there is a clear error naming
// PostgreSQL, without the password, and no hang.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, storage.Config{WorkerID: "w", Options: map[string]string{
		postgres.OptionURL: "postgres://rideshare:secret@127.0.0.1:1/postgres?sslmode=disable"}})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unreachable server: %v", err)
	}
}

func BenchmarkApply(b *testing.B) {
	requirePostgres(b)
	storagetest.BenchmarkApply(b, func(b *testing.B) storage.Storage { return fresh(b) })
}

func BenchmarkGroupCommit(b *testing.B) {
	requirePostgres(b)
	storagetest.BenchmarkGroupCommit(b, func(b *testing.B) storage.Storage { return fresh(b) })
}

func BenchmarkRead(b *testing.B) {
	requirePostgres(b)
	storagetest.BenchmarkRead(b, func(b *testing.B) storage.Storage { return fresh(b) })
}

func BenchmarkSnapshot(b *testing.B) {
	requirePostgres(b)
	storagetest.BenchmarkSnapshot(b, func(b *testing.B) storage.Storage { return fresh(b) })
}
