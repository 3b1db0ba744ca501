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
	"io"
	"maps"
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
	"github.com/rideshare/dbaas/replog"
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

// Values of memRecord.Failed, as sqlstore records them.
const (
	memConflict = 1
	memInvalid  = 2
)

type memRecord struct {
	Result storage.Result `json:"result"`
	Failed int            `json:"failed,omitempty"`
}

type memData struct {
	Tables map[string]map[string]map[string]any `json:"tables"`
	State  storage.State                        `json:"state"`
	Writes map[string]memRecord                 `json:"writes"`
}

// memStorage follows the storage contract: a batch is applied whole or not
// at all, every write takes its seq, redeliveries (even inside the batch)
// are answered from their record, key conflicts and invalid writes change
// nothing and are recorded. Options: read_delay (a duration every Read
// waits); crash_before_apply / crash_after_apply (a marker file: the first
// Apply that finds it missing creates it and ends the process before or
// after committing, as a crash would — the restarted process finds it).
type memStorage struct {
	path        string
	readDelay   time.Duration
	crashBefore string
	crashAfter  string
	mu          sync.Mutex
	d           memData
}

func openMemStorage(_ context.Context, cfg storage.Config) (storage.Storage, error) {
	s := &memStorage{d: memData{Tables: map[string]map[string]map[string]any{}, State: storage.State{Offset: -1, NextID: 1}, Writes: map[string]memRecord{}},
		crashBefore: cfg.Options["crash_before_apply"], crashAfter: cfg.Options["crash_after_apply"]}
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

func saveData(path string, d memData) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// crashOnce ends the process the first time marker is missing.
func crashOnce(marker string) {
	if marker == "" {
		return
	}
	if _, err := os.Stat(marker); err == nil {
		return
	}
	_ = os.WriteFile(marker, nil, 0o644)
	os.Exit(3)
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
			out[t][k] = maps.Clone(row)
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

func (r memRecord) outcome() storage.Outcome {
	o := storage.Outcome{Result: r.Result, Redelivered: true}
	switch r.Failed {
	case memConflict:
		o.Conflict = true
	case memInvalid:
		o.Invalid = fmt.Sprintf("write (seq %d) does not fit the schema", r.Result.Seq)
	}
	return o
}

func (s *memStorage) Apply(ctx context.Context, b storage.Batch) ([]storage.Outcome, error) {
	for i, e := range b.Writes {
		if e.Kind != replog.EntryWrite || e.Write == nil {
			return nil, fmt.Errorf("mem storage: batch entry %d (seq %d, kind %q) carries no write", i, e.Seq, e.Kind)
		}
		if i > 0 && e.Seq <= b.Writes[i-1].Seq {
			return nil, fmt.Errorf("mem storage: batch entry %d has seq %d after seq %d", i, e.Seq, b.Writes[i-1].Seq)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	crashOnce(s.crashBefore)
	d := memData{Tables: cloneTables(s.d.Tables), State: s.d.State, Writes: maps.Clone(s.d.Writes)}
	d.State.Epoch = max(d.State.Epoch, b.Epoch)
	d.State.Offset = b.Offset
	outs := make([]storage.Outcome, len(b.Writes))
	for i := range b.Writes {
		e := &b.Writes[i]
		d.State.Seq = e.Seq
		if rec, ok := d.Writes[e.WriteID]; ok && e.WriteID != "" {
			outs[i] = rec.outcome()
			continue
		}
		o := applyMem(&d, e)
		if e.WriteID != "" {
			rec := memRecord{Result: o.Result}
			switch {
			case o.Conflict:
				rec.Failed = memConflict
			case o.Invalid != "":
				rec.Failed = memInvalid
			}
			d.Writes[e.WriteID] = rec
		}
		outs[i] = o
	}
	if err := saveData(s.path, d); err != nil {
		return nil, err
	}
	s.d = d
	crashOnce(s.crashAfter)
	return outs, nil
}

// checkMem checks w as sqlstore's plan does; it converts the values.
func checkMem(w *dbapi.WriteRequest) (dbapi.Table, error) {
	switch w.Op {
	case dbapi.OpClear:
		return dbapi.Table{}, nil
	case dbapi.OpInsert, dbapi.OpUpdate, dbapi.OpDelete:
	default:
		return dbapi.Table{}, &dbapi.InvalidError{Msg: fmt.Sprintf("op: unknown op %q", w.Op)}
	}
	if err := w.Typed(); err != nil {
		return dbapi.Table{}, err
	}
	t, _ := dbapi.LookupTable(w.Table)
	switch {
	case w.Op == dbapi.OpInsert && len(w.Where) > 0:
		return t, &dbapi.InvalidError{Msg: "where: not allowed on insert"}
	case w.Op == dbapi.OpUpdate && len(w.Values) == 0:
		return t, &dbapi.InvalidError{Msg: "values: update needs at least one column"}
	case w.Op == dbapi.OpDelete && len(w.Values) > 0:
		return t, &dbapi.InvalidError{Msg: "values: not allowed on delete"}
	}
	if w.Op == dbapi.OpInsert {
		for _, c := range t.Columns {
			if _, ok := w.Values[c.Name]; !ok && c.Name != t.AutoID {
				return t, &dbapi.InvalidError{Msg: fmt.Sprintf("values.%s: missing", c.Name)}
			}
		}
	}
	return t, nil
}

// applyMem applies one write that is not a redelivery to d.
func applyMem(d *memData, e *replog.Entry) storage.Outcome {
	w := e.Write
	o := storage.Outcome{Result: storage.Result{Seq: e.Seq}}
	t, err := checkMem(w)
	var inv *dbapi.InvalidError
	if errors.As(err, &inv) {
		o.Invalid = inv.Msg
		return o
	}
	switch w.Op {
	case dbapi.OpClear:
		for name := range d.Tables {
			o.RowsAffected += int64(len(d.Tables[name]))
			d.Tables[name] = map[string]map[string]any{}
		}
	case dbapi.OpInsert:
		if w.Values == nil {
			w.Values = map[string]any{}
		}
		nextID := d.State.NextID
		if t.AutoID != "" {
			if id, given := w.Values[t.AutoID]; given {
				o.ID = id.(int64)
			} else {
				o.ID = d.State.NextID
				w.Values[t.AutoID] = o.ID
			}
			nextID = max(nextID, o.ID+1)
		}
		k := pkOf(t, w.Values)
		if _, dup := d.Tables[t.Name][k]; dup {
			o.Conflict = true
			return o
		}
		d.Tables[t.Name][k] = maps.Clone(w.Values)
		d.State.NextID = nextID
		o.RowsAffected = 1
	case dbapi.OpUpdate, dbapi.OpDelete:
		// Take the matching rows out, put the updated ones back: a key that
		// collides undoes the whole write.
		rows := maps.Clone(d.Tables[t.Name])
		var changed []map[string]any
		for k, row := range rows {
			if matches(row, w.Where) {
				delete(rows, k)
				changed = append(changed, row)
			}
		}
		o.RowsAffected = int64(len(changed))
		if w.Op == dbapi.OpUpdate {
			for _, row := range changed {
				row = maps.Clone(row)
				maps.Copy(row, w.Values)
				k := pkOf(t, row)
				if _, dup := rows[k]; dup {
					return storage.Outcome{Result: storage.Result{Seq: e.Seq}, Conflict: true}
				}
				rows[k] = row
			}
		}
		d.Tables[t.Name] = rows
	}
	return o
}

func (s *memStorage) Lookup(_ context.Context, writeID string) (storage.Result, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.d.Writes[writeID]
	switch {
	case !ok || writeID == "":
		return storage.Result{}, false, nil
	case r.Failed == memConflict:
		return r.Result, true, fmt.Errorf("mem storage: write %q (seq %d) was rejected: %w", writeID, r.Result.Seq, storage.ErrConstraint)
	case r.Failed == memInvalid:
		return r.Result, true, &dbapi.InvalidError{Msg: fmt.Sprintf("write %q (seq %d) does not fit the schema", writeID, r.Result.Seq)}
	}
	return r.Result, true, nil
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

// Handover ends this session's lead; one session per process holds no
// other candidate to reserve the lead for, so it checks and releases only.
func (e *memElection) Handover(_ context.Context, to string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.me == nil || e.leader == nil || e.leader.ID != e.me.ID {
		return fmt.Errorf("mem election: hand over: %w", election.ErrNotLeader)
	}
	if _, ok := e.members[to]; !ok {
		return fmt.Errorf("mem election: hand over to %s: %w", to, election.ErrNoMember)
	}
	e.leader = nil
	e.me.Role = election.RoleSlave
	e.members[e.me.ID] = *e.me
	e.changeLocked()
	return nil
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

// ---- snapshots ----

// errMemSnapshot: the in-memory storage does not write the snapshot format;
// the plugin boundary's snapshot streams are tested over sqlite.
var errMemSnapshot = errors.New("the in-memory test storage has no snapshots")

func (s *memStorage) Export(context.Context, io.Writer) (storage.State, error) {
	return storage.State{}, errMemSnapshot
}

func (s *memStorage) Import(context.Context, io.Reader) (storage.State, error) {
	return storage.State{}, errMemSnapshot
}

// memCatalog is the snapshot catalog of every memElection of the process.
var memCatalog = struct {
	sync.Mutex
	recs map[string]election.SnapshotRecord
}{recs: map[string]election.SnapshotRecord{}}

func (e *memElection) Snapshots(context.Context) ([]election.SnapshotRecord, error) {
	memCatalog.Lock()
	defer memCatalog.Unlock()
	out := make([]election.SnapshotRecord, 0, len(memCatalog.recs))
	for _, r := range memCatalog.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

func (e *memElection) PutSnapshot(_ context.Context, r election.SnapshotRecord) error {
	memCatalog.Lock()
	defer memCatalog.Unlock()
	memCatalog.recs[r.ID] = r
	return nil
}

func (e *memElection) DeleteSnapshot(_ context.Context, id string) error {
	memCatalog.Lock()
	defer memCatalog.Unlock()
	delete(memCatalog.recs, id)
	return nil
}

// ---- supervision ----

// memSupervision is the supervision lock of every memElection of the
// process: held by one session until it closes, contenders wait.
var memSupervision = struct {
	sync.Mutex
	holder  *memElection
	id      string
	changed chan struct{} // closed and replaced when the holder changes
}{changed: make(chan struct{})}

func (e *memElection) Supervise(ctx context.Context, id string) error {
	for {
		memSupervision.Lock()
		if h := memSupervision.holder; h != nil {
			select {
			case <-h.done: // its session ended: the lock is free
				memSupervision.holder = nil
			default:
			}
		}
		if memSupervision.holder == nil || memSupervision.holder == e {
			select {
			case <-e.done:
				memSupervision.Unlock()
				return fmt.Errorf("mem election supervise: %w", election.ErrSessionLost)
			default:
			}
			memSupervision.holder, memSupervision.id = e, id
			close(memSupervision.changed)
			memSupervision.changed = make(chan struct{})
			memSupervision.Unlock()
			return nil
		}
		h, changed := memSupervision.holder, memSupervision.changed
		memSupervision.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.done:
			return fmt.Errorf("mem election supervise: %w", election.ErrSessionLost)
		case <-h.done:
		case <-changed:
		}
	}
}

func (e *memElection) Supervisor(context.Context) (string, bool, error) {
	memSupervision.Lock()
	defer memSupervision.Unlock()
	h := memSupervision.holder
	if h == nil {
		return "", false, nil
	}
	select {
	case <-h.done:
		return "", false, nil
	default:
		return memSupervision.id, true, nil
	}
}
