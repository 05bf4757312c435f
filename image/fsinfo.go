package image

import (
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// FsUsage is the space and inodes that the image store uses on its
// filesystem.
type FsUsage struct {
	// Mountpoint is the store's root directory.
	Mountpoint string
	UsedBytes  uint64
	InodesUsed uint64
	// Timestamp is when the figures were measured.
	Timestamp time.Time
}

// fsUsageTTL is how long a measurement is reused: the kubelet asks about
// every ten seconds, and walking a large store is not free.
const fsUsageTTL = 5 * time.Second

type fsUsageCache struct {
	walk sync.Mutex // serialises walks; protects layers
	mu   sync.Mutex // protects last, walking and writable
	last FsUsage
	// walking tells whether a walk runs in the background.
	walking bool
	// layers are image layers' measurements, by layer id: a layer that is
	// made never changes, so it is walked once.
	layers map[string]du
	// writable are containers' writable layers' last measurements, by
	// container id, which their LayerWalks leave: the store's walk skips
	// them, so that a container of a million files costs its own bounded
	// walk and not the store's.
	writable map[string]du
}

type du struct{ bytes, inodes uint64 }

// FsUsage measures the image store as du would: blocks allocated and
// inodes, each hard-linked inode counted once. It answers from the last
// measurement: when that is older than fsUsageTTL, a new one is started
// in the background, and the caller gets the last (at most one walk old).
// Only the first call waits for a walk.
func (s *Service) FsUsage() (FsUsage, error) {
	s.fs.mu.Lock()
	last, stale := s.fs.last, time.Since(s.fs.last.Timestamp) >= fsUsageTTL
	if last.Timestamp.IsZero() {
		s.fs.mu.Unlock()
		return s.measureFs()
	}
	if stale && !s.fs.walking {
		s.fs.walking = true
		go func() {
			if _, err := s.measureFs(); err != nil {
				s.opts.Log.Warn("measuring the image store", "error", err)
			}
			s.fs.mu.Lock()
			s.fs.walking = false
			s.fs.mu.Unlock()
		}()
	}
	s.fs.mu.Unlock()
	return last, nil
}

// measureFs walks the store and records the result as the last
// measurement: what is not a layer, each image layer the first time it
// is seen (then its figure is reused), and containers' writable layers as
// their own walks last measured them.
func (s *Service) measureFs() (FsUsage, error) {
	s.fs.walk.Lock()
	defer s.fs.walk.Unlock()
	root := s.opts.StorageRoot
	u := FsUsage{Mountpoint: root, Timestamp: time.Now()}
	var rootSt syscall.Stat_t
	if err := syscall.Stat(root, &rootSt); err != nil {
		return FsUsage{}, fmt.Errorf("measuring %s: %w", root, err)
	}
	made, writable, err := s.layerKinds()
	if err != nil {
		return FsUsage{}, fmt.Errorf("measuring %s: %w", root, err)
	}
	layersDir := filepath.Join(root, s.opts.Driver)
	if s.opts.Driver == "vfs" {
		layersDir = filepath.Join(root, "vfs", "dir")
	}
	if s.fs.layers == nil {
		s.fs.layers = map[string]du{}
	}
	for id := range s.fs.layers {
		if !made[id] {
			delete(s.fs.layers, id) // removed
		}
	}
	var total du
	walk := &duWalk{entries: []string{root}, dev: uint64(rootSt.Dev), skip: func(path string) bool {
		if filepath.Dir(path) != layersDir {
			return false
		}
		id := filepath.Base(path)
		switch {
		case writable[id]:
			return true
		case made[id]:
			l, ok := s.fs.layers[id]
			if !ok {
				lw := &duWalk{entries: []string{path}, dev: uint64(rootSt.Dev)}
				lw.step(math.MaxInt)
				l = lw.du
				s.fs.layers[id] = l
			}
			total.bytes += l.bytes
			total.inodes += l.inodes
			return true
		}
		return false
	}}
	walk.step(math.MaxInt)
	total.bytes += walk.bytes
	total.inodes += walk.inodes
	s.fs.mu.Lock()
	for _, w := range s.fs.writable {
		total.bytes += w.bytes
		total.inodes += w.inodes
	}
	u.UsedBytes, u.InodesUsed = total.bytes, total.inodes
	s.fs.last = u
	s.fs.mu.Unlock()
	return u, nil
}

// layerKinds returns the ids of the layers that are made and belong to
// no container (image layers, which never change), and of containers'
// writable layers.
func (s *Service) layerKinds() (made, writable map[string]bool, err error) {
	layers, err := s.store.Layers()
	if err != nil {
		return nil, nil, err
	}
	made = map[string]bool{}
	for _, l := range layers {
		if l.Flags["incomplete"] == nil {
			made[l.ID] = true
		}
	}
	ctrs, err := s.store.Containers()
	if err != nil {
		return nil, nil, err
	}
	writable = map[string]bool{}
	for _, c := range ctrs {
		writable[c.LayerID] = true
		delete(made, c.LayerID)
	}
	return made, writable, nil
}

// recordWritable keeps container id's writable-layer measurement for the
// store's figure; nil forgets it.
func (s *Service) recordWritable(id string, u *du) {
	s.fs.mu.Lock()
	defer s.fs.mu.Unlock()
	if u == nil {
		delete(s.fs.writable, id)
		return
	}
	if s.fs.writable == nil {
		s.fs.writable = map[string]du{}
	}
	s.fs.writable[id] = *u
}
