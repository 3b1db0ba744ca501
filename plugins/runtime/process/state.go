package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// stateFile is what <StateDir>/workers/<id>.json records about a live
// worker: enough for another Runtime to find, verify and signal it.
type stateFile struct {
	ID        string    `json:"id"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	// StartTicks is /proc/<pid>/stat field 22 (start time in clock ticks
	// since boot): a pid whose start time differs is another process.
	StartTicks uint64   `json:"start_ticks"`
	Binary     string   `json:"binary"`
	Args       []string `json:"args"`
	LogPath    string   `json:"log_path"`
}

func (r *Runtime) statePath(id string) string {
	return filepath.Join(r.dir, id+".json")
}

// writeState records st atomically (temp file + rename), so a reader never
// sees half a file.
func (r *Runtime) writeState(st stateFile) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("worker %s: encode state: %w", st.ID, err)
	}
	tmp := filepath.Join(r.dir, "."+st.ID+".json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("worker %s: write state: %w", st.ID, err)
	}
	if err := os.Rename(tmp, r.statePath(st.ID)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("worker %s: write state: %w", st.ID, err)
	}
	return nil
}

func (r *Runtime) readState(name string) (stateFile, error) {
	var st stateFile
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("state file %s: %w", name, err)
	}
	if st.ID+".json" != name || st.PID <= 0 {
		return st, fmt.Errorf("state file %s: bad id %q or pid %d", name, st.ID, st.PID)
	}
	return st, nil
}

// removeState removes id's state file if it still describes pid/ticks: a
// file rewritten by a later Start of the same id is left alone. Callers hold
// r.mu.
func (r *Runtime) removeState(id string, pid int, ticks uint64) {
	st, err := r.readState(id + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil && (st.PID != pid || st.StartTicks != ticks) {
		return
	}
	if err := os.Remove(r.statePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("cannot remove worker state file", "id", id, "error", err)
	}
}

// procStat is what the runtime needs from /proc/<pid>/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z, ...
	ticks uint64 // field 22: start time in clock ticks after boot
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may itself hold spaces or parentheses, so fields are
// counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("pid %d: malformed /proc stat", pid)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("pid %d: short /proc stat", pid)
	}
	ticks, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("pid %d: start time: %w", pid, err)
	}
	return procStat{state: f[0][0], ticks: ticks}, nil
}

// aliveAs reports whether pid is a live (non-zombie) process started at
// ticks.
func aliveAs(pid int, ticks uint64) bool {
	ps, err := readProcStat(pid)
	return err == nil && ps.ticks == ticks && ps.state != 'Z' && ps.state != 'X'
}
