package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/errdefs"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/idtools"
	"go.podman.io/storage/types"
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

// RootfsUsage is the space and inodes of container id's writable layer
// (what it changed on top of its image), measured as du would.
func (s *Service) RootfsUsage(id string) (bytes, inodes uint64, err error) {
	dir, err := s.layerDir(id)
	if err != nil {
		return 0, 0, err
	}
	seen := map[uint64]bool{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !seen[st.Ino] {
			seen[st.Ino] = true
			inodes++
			bytes += uint64(st.Blocks) * 512
		}
		return nil
	})
	return bytes, inodes, err
}
