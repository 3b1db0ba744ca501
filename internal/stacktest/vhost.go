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
// (docs/architecture.md, "Queues"), so two test processes on one vhost
// would read each other's replication log; a lock per vhost keeps them
// apart. When every vhost is taken, it falls back to the first (and tests
// may then disturb each other).
func testVhost() string {
	for i := 0; i < vhosts; i++ {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("rideshare-test-vhost-%d.lock", i))
		// A bare descriptor, not an *os.File: no finalizer closes it (and
		// drops the lock) once unreferenced, so the lock is held until the
		// process exits.
		fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o666)
		if err != nil {
			continue
		}
		if syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			return fmt.Sprintf("rideshare-test-%d", i)
		}
		syscall.Close(fd)
	}
	return "rideshare-test-0"
}
