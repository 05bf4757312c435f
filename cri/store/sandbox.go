// Package store keeps cria's durable records of sandboxes (and, later,
// containers): one JSON file per object, written atomically before a change
// is published in memory, name reservation, and reload after a restart.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/cria-runtime/cria/oci/atomicfile"
)

// SandboxState is a sandbox's state.
//
//	RunPodSandbox
//	     │ (every step done; any failure rolls all of them back)
//	     ▼
//	  ready ──── StopPodSandbox ───▶ notready ── RemovePodSandbox ──▶ (gone)
//	     │                              ▲
//	     └── restart finds it broken ───┘   (Reason says what is missing)
//
// A sandbox whose teardown failed half way stays notready with its
// NetworkUp / Pinned facts telling what a later Stop or Remove must finish.
type SandboxState string

const (
	SandboxReady    SandboxState = "ready"
	SandboxNotReady SandboxState = "notready"
)

// Sandbox is the durable record of a pod sandbox.
type Sandbox struct {
	ID string `json:"id"`
	// Name is the reservation key derived from the CRI metadata.
	Name string `json:"name"`
	// Config is the CRI PodSandboxConfig, as protojson.
	Config         json.RawMessage `json:"config"`
	RuntimeHandler string          `json:"runtime_handler,omitempty"`
	CreatedAt      int64           `json:"created_at"` // unix nanoseconds
	State          SandboxState    `json:"state"`
	// Reason says why a sandbox is notready when it was not stopped by a
	// request (found broken after a restart, failed teardown).
	Reason string `json:"reason,omitempty"`

	// Dir is the sandbox's volatile directory (pinned namespaces, files).
	Dir string `json:"dir"`
	// NetNS, IPCNS and UTSNS are the pinned namespace files; empty means
	// the host's namespace.
	NetNS string `json:"netns,omitempty"`
	IPCNS string `json:"ipcns,omitempty"`
	UTSNS string `json:"utsns,omitempty"`
	// Pinned tells that the namespaces are still pinned (not yet released).
	Pinned bool `json:"pinned"`
	// PIDMode is "pod", "container" or "node".
	PIDMode string `json:"pid_mode"`
	// PausePID and PauseStart identify the pause process of a "pod" PID
	// namespace (start time in clock ticks since boot, against PID reuse).
	PausePID   int    `json:"pause_pid,omitempty"`
	PauseStart uint64 `json:"pause_start,omitempty"`
	// CgroupParent is the CRI's cgroup_parent; PauseCgroup the pause
	// process's own cgroup under it.
	CgroupParent string `json:"cgroup_parent,omitempty"`
	PauseCgroup  string `json:"pause_cgroup,omitempty"`

	Hostname     string `json:"hostname"`
	HostsPath    string `json:"hosts_path"`
	ResolvPath   string `json:"resolv_path"`
	HostnamePath string `json:"hostname_path"`
	ShmPath      string `json:"shm_path,omitempty"`

	// NetworkUp is true from a successful CNI ADD until a successful DEL.
	NetworkUp bool `json:"network_up"`
	// Network is the CNI network list name used; CNIResult its result.
	Network   string          `json:"network,omitempty"`
	CNIResult json.RawMessage `json:"cni_result,omitempty"`
	IPs       []string        `json:"ips,omitempty"`

	StoppedAt int64 `json:"stopped_at,omitempty"`
}

// clone returns a deep enough copy that callers may read it without locks.
func (sb *Sandbox) clone() *Sandbox {
	c := *sb
	c.IPs = append([]string(nil), sb.IPs...)
	return &c
}

// Sandboxes holds every sandbox record, in memory and on disk under dir
// (one directory per sandbox holding sandbox.json).
type Sandboxes struct {
	dir string

	mu    sync.RWMutex        // protects byID and names
	byID  map[string]*Sandbox // published records; never mutated in place
	names map[string]string   // reserved name → sandbox id

	opMu  sync.Mutex             // protects opLocks
	opLks map[string]*sync.Mutex // per-sandbox operation locks
}

// OpenSandboxes loads every record under dir. Records that cannot be read
// are returned as errors and left on disk, never deleted.
func OpenSandboxes(dir string) (*Sandboxes, []error) {
	s := &Sandboxes{dir: dir, byID: map[string]*Sandbox{}, names: map[string]string{}, opLks: map[string]*sync.Mutex{}}
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
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "sandbox.json"))
		if errors.Is(err, os.ErrNotExist) {
			// A RunPodSandbox that died before its first write: nothing
			// was made that a record would describe.
			os.RemoveAll(filepath.Join(dir, e.Name()))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var sb Sandbox
		if err := json.Unmarshal(b, &sb); err != nil || sb.ID != e.Name() {
			errs = append(errs, fmt.Errorf("sandbox record %s is unreadable: %v", e.Name(), err))
			continue
		}
		s.byID[sb.ID] = &sb
		s.names[sb.Name] = sb.ID
	}
	return s, errs
}

// Lock serialises operations on one sandbox id; call the returned function
// to unlock.
func (s *Sandboxes) Lock(id string) func() {
	s.opMu.Lock()
	m := s.opLks[id]
	if m == nil {
		m = &sync.Mutex{}
		s.opLks[id] = m
	}
	s.opMu.Unlock()
	m.Lock()
	return m.Unlock
}

// Reserve claims name for id. If another sandbox holds it, the error (class
// AlreadyExists) names the holder.
func (s *Sandboxes) Reserve(name, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder, ok := s.names[name]; ok && holder != id {
		return fmt.Errorf("sandbox name %q is reserved by sandbox %s; remove it first: %w", name, holder, errdefs.ErrAlreadyExists)
	}
	s.names[name] = id
	return nil
}

// HolderOf returns the id that holds name, if any.
func (s *Sandboxes) HolderOf(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.names[name]
	return id, ok
}

// Release frees name if id holds it.
func (s *Sandboxes) Release(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[name] == id {
		delete(s.names, name)
	}
}

// Put writes sb durably, then publishes it. The caller holds Lock(sb.ID).
func (s *Sandboxes) Put(sb *Sandbox) error {
	b, err := json.MarshalIndent(sb, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, sb.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "sandbox.json"), b, 0o600); err != nil {
		return err
	}
	s.mu.Lock()
	s.byID[sb.ID] = sb.clone()
	s.names[sb.Name] = sb.ID
	s.mu.Unlock()
	return nil
}

// Update applies fn to a copy of the record, writes it durably and then
// publishes it; if fn or the write fails nothing changes. The caller holds
// Lock(id).
func (s *Sandboxes) Update(id string, fn func(*Sandbox) error) (*Sandbox, error) {
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
	return cur.clone(), nil
}

// Delete removes the record durably and frees its name. The caller holds
// Lock(id).
func (s *Sandboxes) Delete(id string) error {
	s.mu.RLock()
	sb := s.byID[id]
	s.mu.RUnlock()
	if sb == nil {
		return nil
	}
	if err := os.RemoveAll(filepath.Join(s.dir, id)); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.byID, id)
	if s.names[sb.Name] == id {
		delete(s.names, sb.Name)
	}
	s.mu.Unlock()
	s.opMu.Lock()
	delete(s.opLks, id)
	s.opMu.Unlock()
	return nil
}

// Get returns a copy of the sandbox with this id, or with this unique id
// prefix. Unknown ids are errdefs.ErrNotFound.
func (s *Sandboxes) Get(id string) (*Sandbox, error) {
	if id == "" {
		return nil, fmt.Errorf("pod_sandbox_id is empty: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sb, ok := s.byID[id]; ok {
		return sb.clone(), nil
	}
	var found *Sandbox
	for full, sb := range s.byID {
		if strings.HasPrefix(full, id) {
			if found != nil {
				return nil, fmt.Errorf("sandbox id prefix %q is ambiguous: %w", id, errdefs.ErrInvalidArgument)
			}
			found = sb
		}
	}
	if found == nil {
		return nil, fmt.Errorf("sandbox %q: %w", id, errdefs.ErrNotFound)
	}
	return found.clone(), nil
}

// List returns copies of every record, oldest first.
func (s *Sandboxes) List() []*Sandbox {
	s.mu.RLock()
	out := make([]*Sandbox, 0, len(s.byID))
	for _, sb := range s.byID {
		out = append(out, sb.clone())
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt < out[j].CreatedAt })
	return out
}
