package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/cria-runtime/cria/oci/atomicfile"
)

// record is what a Store keeps: a pointer to a JSON-serialisable struct
// with an id, a reserved name, a creation time and the group it is listed
// in (a container's sandbox; "" for none).
type record[T any] interface {
	*T
	recordID() string
	recordName() string
	recordTime() int64
	recordGroup() string
}

// Store holds records of one kind, in memory and on disk under dir (one
// directory per id holding file). Published records are never mutated in
// place. A writer's record is deep-copied when it is published (Put); a
// reader gets a shallow copy (Get, List), which shares the record's
// slices, maps and pointed-to values with the store: change a field of it
// by assigning the field, never in place. So reads cost a struct copy,
// not a decode, whatever the record holds. Reads that change nothing
// (Shared, ListShared) get the published record itself and cost no copy.
type Store[T any, P record[T]] struct {
	dir, kind, file string

	mu    sync.RWMutex      // protects byID, byGroup and names
	byID  map[string]P      // published records
	names map[string]string // reserved name → id
	// byGroup indexes the published records by group (ListGroup).
	byGroup map[string]map[string]P

	opMu  sync.Mutex             // protects opLks
	opLks map[string]*sync.Mutex // per-id operation locks

	// syncDir makes a directory's entries durable (atomicfile.SyncDir;
	// a seam for tests).
	syncDir func(dir string) error
}

// Open loads every record under dir. Records that cannot be read are
// returned as errors and left on disk, never deleted; a directory without
// a record (a create that died before its first write) is removed.
func Open[T any, P record[T]](dir, kind, file string) (*Store[T, P], []error) {
	s := &Store[T, P]{dir: dir, kind: kind, file: file, byID: map[string]P{}, byGroup: map[string]map[string]P{}, names: map[string]string{}, opLks: map[string]*sync.Mutex{}, syncDir: atomicfile.SyncDir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return s, []error{err}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return s, []error{err}
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), file))
		if errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r := P(new(T))
		if err := json.Unmarshal(b, r); err != nil || r.recordID() != e.Name() {
			errs = append(errs, fmt.Errorf("%s record %s is unreadable: %v", kind, e.Name(), err))
			continue
		}
		s.publish(r)
		s.names[r.recordName()] = r.recordID()
	}
	return s, errs
}

// publish makes r the record of its id, in byID and in its group's index.
// The caller holds mu for writing.
func (s *Store[T, P]) publish(r P) {
	id := r.recordID()
	if old, ok := s.byID[id]; ok {
		s.unindex(old)
	}
	s.byID[id] = r
	g := s.byGroup[r.recordGroup()]
	if g == nil {
		g = map[string]P{}
		s.byGroup[r.recordGroup()] = g
	}
	g[id] = r
}

// unindex drops r from its group's index. The caller holds mu for
// writing.
func (s *Store[T, P]) unindex(r P) {
	if g := s.byGroup[r.recordGroup()]; g != nil {
		delete(g, r.recordID())
		if len(g) == 0 {
			delete(s.byGroup, r.recordGroup())
		}
	}
}

// oldestFirst orders records by creation time.
func oldestFirst[T any, P record[T]](a, b P) int { return cmp.Compare(a.recordTime(), b.recordTime()) }

// shallow copies a published record for a reader.
func shallow[T any, P record[T]](r P) P {
	c := *r
	return &c
}

// Lock serialises operations on one id; call the returned function to
// unlock.
func (s *Store[T, P]) Lock(id string) func() {
	m := s.opLock(id)
	m.Lock()
	return m.Unlock
}

// TryLock takes id's operation lock if no one holds it, without waiting.
func (s *Store[T, P]) TryLock(id string) (unlock func(), ok bool) {
	m := s.opLock(id)
	if !m.TryLock() {
		return nil, false
	}
	return m.Unlock, true
}

// opLock returns id's operation lock, made on first use.
func (s *Store[T, P]) opLock(id string) *sync.Mutex {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	m := s.opLks[id]
	if m == nil {
		m = &sync.Mutex{}
		s.opLks[id] = m
	}
	return m
}

// Reserve claims name for id. If another record holds it, the error (class
// AlreadyExists) names the holder.
func (s *Store[T, P]) Reserve(name, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder, ok := s.names[name]; ok && holder != id {
		return fmt.Errorf("%s name %q is reserved by %s %s; remove it first: %w", s.kind, name, s.kind, holder, errdefs.ErrAlreadyExists)
	}
	s.names[name] = id
	return nil
}

// HolderOf returns the id that holds name, if any.
func (s *Store[T, P]) HolderOf(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.names[name]
	return id, ok
}

// Release frees name if id holds it.
func (s *Store[T, P]) Release(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[name] == id {
		delete(s.names, name)
	}
}

// Put writes r durably, then publishes a copy. The caller holds Lock(id).
func (s *Store[T, P]) Put(r P) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, r.recordID())
	err = os.Mkdir(dir, 0o700)
	made := err == nil
	if err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, s.file), b, 0o600); err != nil {
		return err
	}
	if made {
		// The new record's directory entry too, or a power loss could
		// forget a record whose side effects (namespaces, IPs) happened.
		if err := s.syncDir(s.dir); err != nil {
			return err
		}
	}
	// Published as decoded from what was written: a deep copy that
	// shares nothing with the caller's record.
	c := P(new(T))
	if err := json.Unmarshal(b, c); err != nil {
		return fmt.Errorf("%s record %s does not decode: %w", s.kind, r.recordID(), err)
	}
	s.mu.Lock()
	s.publish(c)
	s.names[r.recordName()] = r.recordID()
	s.mu.Unlock()
	return nil
}

// Update applies fn to a copy of the record, writes it durably and then
// publishes it; if fn or the write fails nothing changes. The caller holds
// Lock(id).
func (s *Store[T, P]) Update(id string, fn func(P) error) (P, error) {
	cur, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if err := fn(cur); err != nil {
		return nil, err
	}
	if err := s.Put(cur); err != nil {
		return nil, err
	}
	return s.Get(id)
}

// Delete removes the record durably and frees its name. The caller holds
// Lock(id).
func (s *Store[T, P]) Delete(id string) error {
	s.mu.RLock()
	r := s.byID[id]
	s.mu.RUnlock()
	if r == nil {
		return nil
	}
	if err := os.RemoveAll(filepath.Join(s.dir, id)); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	if cur, ok := s.byID[id]; ok {
		s.unindex(cur)
	}
	delete(s.byID, id)
	if s.names[r.recordName()] == id {
		delete(s.names, r.recordName())
	}
	s.mu.Unlock()
	s.opMu.Lock()
	delete(s.opLks, id)
	s.opMu.Unlock()
	return nil
}

// Get returns a copy of the record with this id, or with this unique id
// prefix. Unknown ids are errdefs.ErrNotFound.
func (s *Store[T, P]) Get(id string) (P, error) {
	r, err := s.Shared(id)
	if err != nil {
		return nil, err
	}
	return shallow[T, P](r), nil
}

// Shared returns the published record with this id, or with this unique
// id prefix, itself rather than a copy: the caller must not change it in
// any way, not even by assigning a field. It is for reads that a kubelet
// makes hundreds of times a second (a relist, a status).
func (s *Store[T, P]) Shared(id string) (P, error) {
	if id == "" {
		return nil, fmt.Errorf("%s id is empty: %w", s.kind, errdefs.ErrInvalidArgument)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r, ok := s.byID[id]; ok {
		return r, nil
	}
	var found P
	for full, r := range s.byID {
		if strings.HasPrefix(full, id) {
			if found != nil {
				return nil, fmt.Errorf("%s id prefix %q is ambiguous: %w", s.kind, id, errdefs.ErrInvalidArgument)
			}
			found = r
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s %q: %w", s.kind, id, errdefs.ErrNotFound)
	}
	return found, nil
}

// List returns copies of every record, oldest first.
func (s *Store[T, P]) List() []P {
	out := s.ListShared()
	for i, r := range out {
		out[i] = shallow[T, P](r)
	}
	return out
}

// ListShared returns every published record, oldest first, as Shared
// does: the caller must not change them.
func (s *Store[T, P]) ListShared() []P {
	s.mu.RLock()
	out := make([]P, 0, len(s.byID))
	for _, r := range s.byID {
		out = append(out, r)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, oldestFirst[T, P])
	return out
}

// ListGroup returns copies of the records of one group (a sandbox's
// containers), oldest first, from the group's index: its cost is the
// group's size, not the store's.
func (s *Store[T, P]) ListGroup(group string) []P {
	s.mu.RLock()
	g := s.byGroup[group]
	out := make([]P, 0, len(g))
	for _, r := range g {
		out = append(out, shallow[T, P](r))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, oldestFirst[T, P])
	return out
}
