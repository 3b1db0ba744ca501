package pluginhost

// In-memory test doubles of the three kinds. What is under test is the plugin
// boundary, not a backend: these are just small, deterministic
// implementations that persist to a file when given a directory, so a
// restarted plugin process "re-opens" or "adopts" what the previous one had.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rideshare/dbaas/dbapi"
	"github.com/rideshare/dbaas/plugins/election"
	"github.com/rideshare/dbaas/plugins/runtime"
	"github.com/rideshare/dbaas/plugins/storage"
)

// ---- runtime ----

type memRuntime struct {
	cfg  runtime.Config
	mu   sync.Mutex
	hs   map[string]runtime.Handle
	next int
	subs map[chan runtime.Exit]struct{}
}

func newMemRuntime(_ context.Context, cfg runtime.Config) (runtime.Runtime, error) {
	r := &memRuntime{cfg: cfg, hs: map[string]runtime.Handle{}, next: 100000, subs: map[chan runtime.Exit]struct{}{}}
	if cfg.Options["fail"] != "" {
		return nil, errors.New("mem runtime: " + cfg.Options["fail"])
	}
	if cfg.StateDir != "" {
		b, err := os.ReadFile(filepath.Join(cfg.StateDir, "state.json"))
		if err == nil {
			var hs []runtime.Handle
			if err := json.Unmarshal(b, &hs); err != nil {
				return nil, err
			}
			for _, h := range hs {
				r.hs[h.ID] = h
				r.next = max(r.next, h.PID)
			}
		}
	}
	return r, nil
}

func (r *memRuntime) saveLocked() {
	if r.cfg.StateDir == "" {
		return
	}
	hs := r.listLocked()
	b, _ := json.Marshal(hs)
	_ = os.WriteFile(filepath.Join(r.cfg.StateDir, "state.json"), b, 0o644)
}

func (r *memRuntime) listLocked() []runtime.Handle {
	hs := make([]runtime.Handle, 0, len(r.hs))
	for _, h := range r.hs {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	return hs
}

func (r *memRuntime) Start(_ context.Context, spec runtime.Spec) (runtime.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.hs[spec.ID]; ok {
		return runtime.Handle{}, fmt.Errorf("worker %s already running", spec.ID)
	}
	r.next++
	h := runtime.Handle{ID: spec.ID, PID: r.next, StartedAt: time.Now().UTC().Round(0)}
	r.hs[spec.ID] = h
	r.saveLocked()
	return h, nil
}

func (r *memRuntime) end(id string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.hs[id]
	if !ok {
		return fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	delete(r.hs, id)
	r.saveLocked()
	e := runtime.Exit{ID: id, PID: h.PID, ExitCode: code, At: time.Now().UTC()}
	for ch := range r.subs {
		select {
		case ch <- e:
		default:
		}
	}
	return nil
}

func (r *memRuntime) Stop(_ context.Context, id string, _ time.Duration) error { return r.end(id, 0) }
func (r *memRuntime) Kill(_ context.Context, id string) error                  { return r.end(id, 137) }

func (r *memRuntime) List(context.Context) ([]runtime.Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listLocked(), nil
}

func (r *memRuntime) Exits(ctx context.Context) (<-chan runtime.Exit, error) {
	ch := make(chan runtime.Exit, 64)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
		close(ch)
	}()
	return ch, nil
}

// ---- storage ----

type memData struct {
	Tables map[string]map[string]map[string]any `json:"tables"`
	State  storage.State                        `json:"state"`
	Writes map[string]storage.Result            `json:"writes"`
}

type memStorage struct {
	path      string
	readDelay time.Duration
	mu        sync.Mutex
	d         memData
}

func openMemStorage(_ context.Context, cfg storage.Config) (storage.Storage, error) {
	s := &memStorage{d: memData{Tables: map[string]map[string]map[string]any{}, State: storage.State{Offset: -1, NextID: 1}, Writes: map[string]storage.Result{}}}
	if v := cfg.Options["read_delay"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		s.readDelay = d
	}
	if cfg.DataDir != "" {
		s.path = filepath.Join(cfg.DataDir, cfg.WorkerID+".json")
		if b, err := os.ReadFile(s.path); err == nil {
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.UseNumber()
			if err := dec.Decode(&s.d); err != nil {
				return nil, err
			}
			for _, rows := range s.d.Tables {
				for _, row := range rows {
					dbapi.Normalize(row)
				}
			}
		}
	}
	for _, t := range dbapi.Schema {
		if s.d.Tables[t.Name] == nil {
			s.d.Tables[t.Name] = map[string]map[string]any{}
		}
	}
	return s, nil
}

func (s *memStorage) saveLocked() error {
	if s.path == "" {
		return nil
	}
	b, err := json.Marshal(s.d)
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

func (s *memStorage) State(context.Context) (storage.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.State, nil
}

func cloneTables(in map[string]map[string]map[string]any) map[string]map[string]map[string]any {
	out := make(map[string]map[string]map[string]any, len(in))
	for t, rows := range in {
		out[t] = make(map[string]map[string]any, len(rows))
		for k, row := range rows {
			r := make(map[string]any, len(row))
			for c, v := range row {
				r[c] = v
			}
			out[t][k] = r
		}
	}
	return out
}

func pkOf(t dbapi.Table, row map[string]any) string {
	parts := make([]string, len(t.PrimaryKey))
	for i, c := range t.PrimaryKey {
		parts[i] = fmt.Sprint(row[c])
	}
	return strings.Join(parts, "\x00")
}

func matches(row, where map[string]any) bool {
	for k, v := range where {
		if row[k] != v {
			return false
		}
	}
	return true
}

func (s *memStorage) Apply(_ context.Context, e dbapi.Entry, offset int64) (storage.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Kind != dbapi.EntryWrite || e.Write == nil {
		return storage.Result{}, fmt.Errorf("mem storage: entry kind %q is not a write", e.Kind)
	}
	w := e.Write
	tables := cloneTables(s.d.Tables)
	nextID := s.d.State.NextID
	res := storage.Result{Seq: e.Seq}
	var applyErr error
	switch w.Op {
	case dbapi.OpClear:
		for t := range tables {
			res.RowsAffected += int64(len(tables[t]))
			tables[t] = map[string]map[string]any{}
		}
	case dbapi.OpInsert:
		t, _ := dbapi.LookupTable(w.Table)
		row := map[string]any{}
		for k, v := range w.Values {
			row[k] = v
		}
		if t.AutoID != "" {
			row[t.AutoID] = nextID
			res.ID = nextID
			nextID++
		}
		k := pkOf(t, row)
		if _, dup := tables[t.Name][k]; dup {
			applyErr = fmt.Errorf("%w: duplicate primary key in %s", storage.ErrConstraint, t.Name)
			res = storage.Result{Seq: e.Seq}
		} else {
			tables[t.Name][k] = row
			res.RowsAffected = 1
		}
	case dbapi.OpUpdate, dbapi.OpDelete:
		t, _ := dbapi.LookupTable(w.Table)
		for k, row := range tables[t.Name] {
			if !matches(row, w.Where) {
				continue
			}
			res.RowsAffected++
			if w.Op == dbapi.OpDelete {
				delete(tables[t.Name], k)
				continue
			}
			for c, v := range w.Values {
				row[c] = v
			}
		}
	default:
		return storage.Result{}, fmt.Errorf("mem storage: op %q", w.Op)
	}
	if applyErr == nil {
		s.d.Tables = tables
		s.d.State.NextID = nextID
	}
	s.d.State.Seq, s.d.State.Offset = e.Seq, offset
	if e.Epoch > s.d.State.Epoch {
		s.d.State.Epoch = e.Epoch
	}
	if e.WriteID != "" && applyErr == nil {
		s.d.Writes[e.WriteID] = res
	}
	if err := s.saveLocked(); err != nil {
		return storage.Result{}, err
	}
	return res, applyErr
}

func (s *memStorage) Advance(_ context.Context, epoch uint64, offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch > s.d.State.Epoch {
		s.d.State.Epoch = epoch
	}
	s.d.State.Offset = offset
	return s.saveLocked()
}

func (s *memStorage) Lookup(_ context.Context, writeID string) (storage.Result, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.d.Writes[writeID]
	return r, ok, nil
}

func (s *memStorage) Read(ctx context.Context, q dbapi.ReadRequest) ([]map[string]any, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if s.readDelay > 0 {
		select {
		case <-time.After(s.readDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []map[string]any
	for _, row := range s.d.Tables[q.Table] {
		if !matches(row, q.Where) {
			continue
		}
		out := make(map[string]any, len(q.Columns))
		for _, c := range q.Columns {
			out[c] = row[c]
		}
		rows = append(rows, out)
	}
	col, desc := q.OrderColumn()
	if col == "" {
		t, _ := dbapi.LookupTable(q.Table)
		col = t.PrimaryKey[0]
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := fmt.Sprint(rows[i][col]), fmt.Sprint(rows[j][col])
		if x, ok := rows[i][col].(int64); ok {
			y, _ := rows[j][col].(int64)
			return (x < y) != desc
		}
		return (a < b) != desc
	})
	if q.Limit > 0 && len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	return rows, nil
}

func (s *memStorage) Hash(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(s.d.Tables) // map keys are sorted
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func (s *memStorage) Close() error { return nil }

func (s *memStorage) Destroy(context.Context) error {
	if s.path == "" {
		return nil
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ---- election ----

// memElection is one session of an in-memory election (a process holds one).
// Campaign wins when no leader exists and the member is joined and not
// draining. A SessionTimeout > 0 makes the session expire after it.
type memElection struct {
	mu      sync.Mutex
	me      *election.Member
	members map[string]election.Member
	leader  *election.Leader
	epoch   uint64
	changed chan struct{} // closed and replaced on every change
	subs    map[chan struct{}]struct{}
	done    chan struct{}
	closed  bool
}

func newMemElection(_ context.Context, cfg election.Config) (election.Election, error) {
	e := &memElection{members: map[string]election.Member{}, changed: make(chan struct{}), subs: map[chan struct{}]struct{}{}, done: make(chan struct{})}
	if cfg.SessionTimeout > 0 {
		time.AfterFunc(cfg.SessionTimeout, func() { _ = e.Close() })
	}
	return e, nil
}

func (e *memElection) changeLocked() {
	close(e.changed)
	e.changed = make(chan struct{})
	for ch := range e.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (e *memElection) Join(_ context.Context, m election.Member) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("mem election: session closed")
	}
	e.me = &m
	e.members[m.ID] = m
	e.changeLocked()
	return nil
}

func (e *memElection) Update(_ context.Context, m election.Member) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.me == nil || e.me.ID != m.ID {
		return fmt.Errorf("mem election: %s has not joined", m.ID)
	}
	if m.Role == election.RoleMaster && (e.leader == nil || e.leader.ID != m.ID) {
		return fmt.Errorf("%w: %s cannot claim the master role", election.ErrNotLeader, m.ID)
	}
	e.me = &m
	e.members[m.ID] = m
	e.changeLocked()
	return nil
}

func (e *memElection) Campaign(ctx context.Context) (uint64, error) {
	for {
		e.mu.Lock()
		if e.me != nil && e.leader != nil && e.leader.ID == e.me.ID {
			ep := e.epoch
			e.mu.Unlock()
			return ep, nil
		}
		if e.me != nil && e.leader == nil && !e.me.Draining {
			e.epoch++
			e.leader = &election.Leader{ID: e.me.ID, PID: e.me.PID, Epoch: e.epoch}
			e.changeLocked()
			ep := e.epoch
			e.mu.Unlock()
			return ep, nil
		}
		changed := e.changed
		e.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-e.done:
			return 0, errors.New("mem election: session lost")
		}
	}
}

func (e *memElection) Epoch(context.Context) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.epoch, nil
}

func (e *memElection) Done() <-chan struct{} { return e.done }

func (e *memElection) Members(context.Context) ([]election.Member, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ms := make([]election.Member, 0, len(e.members))
	for _, m := range e.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].PID < ms[j].PID })
	return ms, nil
}

func (e *memElection) Leader(context.Context) (election.Leader, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leader == nil {
		return election.Leader{}, false, nil
	}
	return *e.leader, true, nil
}

func (e *memElection) Watch(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	go func() {
		<-ctx.Done()
		e.mu.Lock()
		delete(e.subs, ch)
		e.mu.Unlock()
		close(ch)
	}()
	return ch, nil
}

func (e *memElection) Remove(_ context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.members, id)
	if e.leader != nil && e.leader.ID == id {
		e.leader = nil
	}
	if e.me != nil && e.me.ID == id {
		e.me = nil
	}
	e.changeLocked()
	return nil
}

func (e *memElection) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.done)
	}
	return nil
}
