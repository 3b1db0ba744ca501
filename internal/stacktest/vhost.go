package stacktest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// vhosts is how many test vhosts scripts/services.sh creates.
const vhosts = 8

// testVhost locks one of the test vhosts (rideshare-test-0 … -7) for the
// life of this test process and returns its name. The queue names are fixed
// by the design, so two test processes on one vhost would read each other's
// replication log; a lock per vhost keeps them apart. When every vhost is
// taken, it falls back to the first (and tests may then disturb each other).
func testVhost() string {
	for i := 0; i < vhosts; i++ {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("rideshare-test-vhost-%d.lock", i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			// Held (never closed) until the process exits.
			vhostLock = f
			return fmt.Sprintf("rideshare-test-%d", i)
		}
		f.Close()
	}
	return "rideshare-test-0"
}

var vhostLock *os.File
