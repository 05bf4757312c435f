package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/containerd/errdefs"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	"go.podman.io/storage/types"
	"golang.org/x/sys/unix"
)

// IDMappings are the user namespace mappings (container ID to host ID)
// that a root filesystem is seen through.
type IDMappings struct {
	UIDs, GIDs []idtools.IDMap
}

// CanIDMapLayers tells whether the storage driver mounts image layers
// through ID mappings (overlay's idmapped lower layers), so that a
// container in a user namespace needs no copy of its image.
func (s *Service) CanIDMapLayers(m IDMappings) bool {
	d, err := s.store.GraphDriver()
	return err == nil && d.SupportsShifting(m.UIDs, m.GIDs)
}

// Rootfs is a container's writable root filesystem on top of its image.
type Rootfs struct {
	// Path is where it is mounted.
	Path string
	// Image is the image it is made from.
	Image *Image
}

// CreateRootfs makes a writable layer for container id on top of the image
// that ref names, and mounts it; with idmap, its files are seen through
// those mappings (idmapped lower layers: nothing is copied or chowned,
// and a driver that cannot is ErrFailedPrecondition). An image that is
// not in the store is ErrNotFound. On failure nothing is left.
func (s *Service) CreateRootfs(ctx context.Context, id, ref string, idmap *IDMappings) (_ *Rootfs, retErr error) {
	simg, err := s.resolve(ref)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, fmt.Errorf("image %q is not pulled: %w", ref, errdefs.ErrNotFound)
		}
		return nil, err
	}
	img, err := s.describe(ctx, simg)
	if err != nil {
		return nil, err
	}
	var opts *storage.ContainerOptions
	if idmap != nil {
		if !s.CanIDMapLayers(*idmap) {
			return nil, fmt.Errorf("the %s storage driver cannot mount image layers through ID mappings on this kernel, and cria does not copy images for user namespaces: %w", s.opts.Driver, errdefs.ErrFailedPrecondition)
		}
		opts = &storage.ContainerOptions{IDMappingOptions: types.IDMappingOptions{UIDMap: idmap.UIDs, GIDMap: idmap.GIDs}}
	}
	ctr, err := s.store.CreateContainer(id, nil, simg.ID, "", "", opts)
	if err != nil {
		return nil, fmt.Errorf("creating the container's layer: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = s.RemoveRootfs(id)
		}
	}()
	if idmap != nil {
		// The container's root (not the host's) must pass through the
		// layer's directory to its root filesystem: as a member of its
		// group, as no one else may (the driver made it 0700).
		rootGID := -1
		for _, m := range idmap.GIDs {
			if m.ContainerID == 0 {
				rootGID = m.HostID
			}
		}
		dir := filepath.Join(s.opts.StorageRoot, s.opts.Driver, ctr.LayerID)
		if err := os.Chown(dir, 0, rootGID); err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o710); err != nil {
			return nil, err
		}
	}
	p, err := s.store.Mount(id, "")
	if err != nil {
		return nil, fmt.Errorf("mounting the container's root filesystem: %w", err)
	}
	return &Rootfs{Path: p, Image: img}, nil
}

// layerDir is the directory of container id's writable layer.
func (s *Service) layerDir(id string) (string, error) {
	if dir, ok := s.layerDirs.Load(id); ok {
		return dir.(string), nil
	}
	c, err := s.store.Container(id)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.opts.StorageRoot, s.opts.Driver, c.LayerID, "diff")
	if s.opts.Driver == "vfs" {
		dir = filepath.Join(s.opts.StorageRoot, "vfs", "dir", c.LayerID)
	}
	s.layerDirs.Store(id, dir)
	return dir, nil
}

// RemoveRootfs unmounts and deletes container id's layer. Removing what is
// gone succeeds.
func (s *Service) RemoveRootfs(id string) error {
	s.layerDirs.Delete(id)
	s.recordWritable(id, nil)
	if _, err := s.store.Container(id); errors.Is(err, storage.ErrContainerUnknown) || errors.Is(err, storage.ErrNotAContainer) {
		return nil // never made, or already deleted
	}
	if _, err := s.store.Unmount(id, true); err != nil && !errors.Is(err, storage.ErrContainerUnknown) && !errors.Is(err, storage.ErrLayerUnknown) {
		return fmt.Errorf("unmounting the root filesystem of %s: %w", id, err)
	}
	if err := s.store.DeleteContainer(id); err != nil && !errors.Is(err, storage.ErrContainerUnknown) {
		return fmt.Errorf("deleting the layer of %s: %w", id, err)
	}
	return nil
}

// LayerWalk measures container id's writable layer (what it changed on
// top of its image) as du would, a bounded number of entries at a time,
// so that a layer of a million files costs each round no more than its
// budget: Step resumes where the last one stopped.
type LayerWalk struct {
	svc *Service
	id  string
	duWalk
}

// NewLayerWalk starts measuring container id's writable layer.
func (s *Service) NewLayerWalk(id string) (*LayerWalk, error) {
	dir, err := s.layerDir(id)
	if err != nil {
		return nil, err
	}
	return &LayerWalk{svc: s, id: id, duWalk: duWalk{entries: []string{dir}}}, nil
}

// Step measures at most budget entries (one lstat each) and tells whether
// the whole layer has been measured. What vanishes meanwhile is skipped.
// A complete measurement also counts in the store's (FsUsage).
func (w *LayerWalk) Step(budget int) (done bool) {
	if w.step(budget) {
		if w.svc != nil {
			w.svc.recordWritable(w.id, &w.du)
		}
		return true
	}
	return false
}

// Usage is what the walk has measured: the layer's, once Step is done.
func (w *LayerWalk) Usage() (bytes, inodes uint64) { return w.bytes, w.inodes }

// duWalk measures a tree as du would: blocks allocated and inodes, each
// hard-linked inode once, a bounded number of entries at a time (step).
type duWalk struct {
	du
	// dirs are directories still to read; entries paths read and not
	// measured yet (the first is the tree's root).
	dirs, entries []string
	// links are the hard-linked inodes counted already.
	links map[uint64]struct{}
	// dev, if not 0, is the only filesystem measured: what is mounted
	// inside the tree is neither counted nor entered.
	dev uint64
	// skip, if set, is asked of each directory below the root: true
	// leaves it out (skip counts it itself, as it sees fit).
	skip  func(path string) bool
	begun bool
}

// dirents are readNames' buffer and names, shared by the walks: a node's
// collector walks every container's layer anew each round.
var dirents = sync.Pool{New: func() any { return &direntBuf{buf: make([]byte, 8192)} }}

type direntBuf struct {
	buf   []byte
	names []string
}

// step measures at most budget entries and tells whether the whole tree
// has been measured.
func (w *duWalk) step(budget int) bool {
	for budget > 0 {
		if len(w.entries) == 0 {
			if len(w.dirs) == 0 {
				return true
			}
			dir := w.dirs[len(w.dirs)-1]
			w.dirs = w.dirs[:len(w.dirs)-1]
			d := dirents.Get().(*direntBuf)
			d.names, _ = readNames(dir, d.buf, d.names[:0])
			for _, n := range d.names {
				w.entries = append(w.entries, dir+"/"+n)
			}
			clear(d.names) // the pool keeps the slice, not the names
			dirents.Put(d)
			continue
		}
		p := w.entries[len(w.entries)-1]
		w.entries = w.entries[:len(w.entries)-1]
		root := !w.begun
		w.begun = true
		budget--
		if budget%128 == 0 {
			// The daemon serves on one P (package procs), and lstat
			// does not give it up: let the RPCs in between.
			runtime.Gosched()
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil || w.dev != 0 && st.Dev != w.dev {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if !root && w.skip != nil && w.skip(p) {
				continue
			}
			w.dirs = append(w.dirs, p)
		} else if st.Nlink > 1 {
			if _, seen := w.links[st.Ino]; seen {
				continue
			}
			if w.links == nil {
				w.links = map[uint64]struct{}{}
			}
			w.links[st.Ino] = struct{}{}
		}
		w.inodes++
		w.bytes += uint64(st.Blocks) * 512
	}
	return len(w.entries) == 0 && len(w.dirs) == 0
}

// readNames lists the entries of dir into names, reading through buf. Its
// last component must not be a symbolic link (a container may have swapped
// one in for the directory since its lstat); a link swapped in for a
// directory above it is still followed, as it is by the walk's lstat. It goes around os.File, which would
// try to put each directory in Go's poller: two system calls more a
// directory, and a walk of a full node's layers reads a thousand.
func readNames(dir string, buf []byte, names []string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return names, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	for {
		n, err := unix.ReadDirent(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return names, &os.PathError{Op: "getdents", Path: dir, Err: err}
		case n <= 0:
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
