package backup

import (
	"errors"
	"fmt"
	"io"

	"github.com/rideshare/dbaas/plugins/storage"
	"github.com/rideshare/dbaas/snapshot"
)

// readState reads a whole backup — format, every row, the end line's counts
// — and returns the State it covers: a file that is not a whole snapshot is
// refused before anything is stored.
func readState(r io.Reader) (storage.State, error) {
	d, err := snapshot.NewDecoder(r)
	if err != nil {
		return storage.State{}, fmt.Errorf("read the backup: %w", err)
	}
	for {
		_, err := d.Next()
		if errors.Is(err, io.EOF) {
			return d.Header().State, nil
		}
		if err != nil {
			return storage.State{}, fmt.Errorf("read the backup: %w", err)
		}
	}
}
