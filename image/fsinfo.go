package image

import (
	"fmt"
	"io/fs"
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
	walk sync.Mutex // serialises walks
	mu   sync.Mutex // protects last and walking
	last FsUsage
	// walking tells whether a walk runs in the background.
	walking bool
}

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
// measurement.
func (s *Service) measureFs() (FsUsage, error) {
	s.fs.walk.Lock()
	defer s.fs.walk.Unlock()
	root := s.opts.StorageRoot
	u := FsUsage{Mountpoint: root, Timestamp: time.Now()}
	var rootSt syscall.Stat_t
	if err := syscall.Stat(root, &rootSt); err != nil {
		return FsUsage{}, fmt.Errorf("measuring %s: %w", root, err)
	}
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			// Entries vanish while layers are removed; skip them.
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Dev != rootSt.Dev {
			// A mount inside the store (a container's merged rootfs):
			// its files are counted in their layers already.
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		u.InodesUsed++
		u.UsedBytes += uint64(st.Blocks) * 512
		return nil
	})
	if err != nil {
		return FsUsage{}, fmt.Errorf("measuring %s: %w", root, err)
	}
	s.fs.mu.Lock()
	s.fs.last = u
	s.fs.mu.Unlock()
	return u, nil
}
