package stacktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rideshare/dbaas/internal/procfs"
)

// ZooKeeperCmd is in the command line of the ZooKeeper server that
// scripts/services.sh starts on this machine.
const ZooKeeperCmd = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

// ZooKeeperPID is the pid of the local ZooKeeper server, for tests that
// pause or stop it.
func ZooKeeperPID() (int, error) {
	for _, p := range procfs.List() {
		if strings.Contains(strings.Join(p.Args, " "), ZooKeeperCmd) && procfs.Alive(p.PID) {
			return p.PID, nil
		}
	}
	return 0, fmt.Errorf("no local ZooKeeper server process runs %s (run `make services`)", ZooKeeperCmd)
}

// StartServices runs the project's own scripts/services.sh, as an operator
// would, to start whichever service is down and wait until it answers. Its
// output goes to a file, not a pipe: the daemons it starts inherit the
// descriptors, and a pipe they hold open would keep the command from ever
// returning.
func StartServices() error {
	root, err := ModuleRoot()
	if err != nil {
		return fmt.Errorf("find the module root: %w", err)
	}
	log, err := os.CreateTemp("", "rideshare-services-*.log")
	if err != nil {
		return fmt.Errorf("services.sh log: %w", err)
	}
	defer os.Remove(log.Name())
	defer log.Close()
	cmd := exec.Command(filepath.Join(root, "scripts", "services.sh"))
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		return fmt.Errorf("scripts/services.sh: %w: %s", err, out)
	}
	return nil
}
