package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rideshare/dbaas/internal/stacktest"
)

// rideshare runs the CLI against stack s's deployment.
func rideshare(t *testing.T, s *stacktest.Stack, vars []string, args ...string) string {
	t.Helper()
	cmd := []string{args[0], "-config", s.Config.File}
	for _, v := range vars {
		cmd = append(cmd, "-var", v)
	}
	cmd = append(cmd, args[1:]...)
	out, err := exec.Command(stacktest.Binary(t), cmd...).CombinedOutput()
	if err != nil {
		t.Fatalf("rideshare %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	return string(out)
}

// Backup → restore into a new deployment (a new ZooKeeper root, its log
// started afresh) → the RideShare API through the gateway shows the same
// users and rides.
func TestBackupRestoreThroughTheGateway(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Slaves: 1})
	e := newEnv(t, s.URL)
	e.reset(t)
	for i := 0; i < 20; i++ {
		e.addUser(t, fmt.Sprintf("rider%02d", i))
	}
	var ids []int64
	for i := 0; i < 10; i++ {
		id := e.addRide(t, fmt.Sprintf("rider%02d", i), future, 1+i%3, 5)
		e.join(t, id, fmt.Sprintf("rider%02d", i+10)).want(t, 200, `{}`)
		ids = append(ids, id)
	}
	views := func(e *env) []string {
		out := []string{string(e.gw(t, "GET", "/api/v1/users", nil).want(t, 200, "").body)}
		for src := 1; src <= 3; src++ {
			out = append(out, string(e.gw(t, "GET", fmt.Sprintf("/api/v1/rides?source=%d&destination=5", src), nil).want(t, 200, "").body))
		}
		for _, id := range ids {
			out = append(out, string(e.gw(t, "GET", fmt.Sprintf("/api/v1/rides/%d", id), nil).want(t, 200, "").body))
		}
		return out
	}
	before := views(e)

	file := filepath.Join(t.TempDir(), "rideshare.backup")
	out := rideshare(t, s, s.Vars, "backup", "-new", "-o", file)
	if !strings.Contains(out, "backup of seq") {
		t.Fatalf("backup said: %s", out)
	}
	t.Log(strings.TrimSpace(out))
	s.Stop()

	root := "/rideshare-test/restored-" + filepath.Base(t.TempDir())
	vars := append(append([]string{}, s.Vars...), "zk_root="+root)
	out = rideshare(t, s, vars, "restore", file)
	if !strings.Contains(out, "restored seq") {
		t.Fatalf("restore said: %s", out)
	}
	t.Log(strings.TrimSpace(out))
	// A second restore into the now seeded deployment is refused.
	if err := exec.Command(stacktest.Binary(t), "restore", "-config", s.Config.File, "-var", "zk_root="+root, "-var", "amqp_url="+s.Config.AMQPURL,
		"-var", fmt.Sprintf("zk_servers=[%q]", stacktest.ZKAddr), file).Run(); err == nil {
		t.Fatal("a restore into a deployment that already has a snapshot succeeded")
	}

	s2 := stacktest.Start(t, stacktest.Options{Slaves: 1, Vars: []string{"zk_root=" + root}})
	for _, w := range s2.Workers() {
		if w.StartedFrom == "" {
			t.Fatalf("worker %s of the restored deployment did not start from the backup", w.ID)
		}
	}
	e2 := newEnv(t, s2.URL)
	after := views(e2)
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("after restore, view %d differs:\nbefore %s\nafter  %s", i, before[i], after[i])
		}
	}
	// And the restored deployment takes writes.
	e2.addUser(t, "newcomer")
}
