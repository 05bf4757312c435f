// Package image is cria's one home for go.podman.io/image and
// go.podman.io/storage: pulls (deduplicated, watched for stalls, rolled back
// on failure), listing, status, removal, filesystem usage, and container
// root filesystems with the measure of their writable layers. It imports no other cria package; the CRI
// handlers translate its types.
package image

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.podman.io/image/v5/types"
	"go.podman.io/storage"
)

// Options configure a Service. Paths are absolute.
type Options struct {
	// StorageRoot and StorageRunRoot are the containers/storage graph root
	// and run root.
	StorageRoot, StorageRunRoot string
	// Driver and DriverOptions select the graph driver ("overlay", "vfs").
	Driver        string
	DriverOptions []string
	// RegistriesConf is a containers-registries.conf(5) file; its drop-in
	// directory is RegistriesConf + ".d". Missing files mean no mirrors.
	RegistriesConf string
	// SignaturePolicy is a containers-policy.json(5) file, enforced if it
	// exists.
	SignaturePolicy string
	// PullProgressTimeout cancels a pull that receives nothing for this long.
	PullProgressTimeout time.Duration
	// MaxParallelDownloads bounds the layers fetched at once per pull.
	MaxParallelDownloads int
	// PinnedImages are name patterns (exact, or prefix ending in "*").
	PinnedImages []string
	// UserAgent is sent to registries.
	UserAgent string
	// Log receives pull progress and rollback failures.
	Log *slog.Logger
	// OnPull, if not nil, is told of every pull's bytes, duration and
	// result.
	OnPull func(bytes uint64, d time.Duration, err error)
}

// Service serves images from one containers/storage store.
type Service struct {
	opts  Options
	store storage.Store
	// sys is the base SystemContext; each pull copies it and adds its
	// credentials. Never modified after New.
	sys *types.SystemContext

	mu sync.Mutex // protects pulls and info
	// pulls are the pulls in flight, by pullKey.
	pulls map[string]*pullOp
	// info caches what never changes for an image id: config, size.
	info map[string]*imageInfo

	fs fsUsageCache

	// layerDirs are containers' writable layer directories, by container
	// id: fixed once made, and the store's lookup reloads its whole list.
	layerDirs sync.Map
}

// New opens (creating if needed) the store and cleans up after any pull
// that a crash interrupted: the pull's temporary files and layers that no
// image or container uses.
func New(opts Options) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	store, err := storage.GetStore(storage.StoreOptions{
		RunRoot:            opts.StorageRunRoot,
		GraphRoot:          opts.StorageRoot,
		GraphDriverName:    opts.Driver,
		GraphDriverOptions: opts.DriverOptions,
	})
	if err != nil {
		return nil, fmt.Errorf("opening image store at %s: %w", opts.StorageRoot, err)
	}
	// Passed through by name only, as cria's root is: the root of a pod in
	// a user namespace reaches its container's layer, which the driver
	// makes 0700 and owned by that root; everything else below is the
	// host root's alone.
	if err := os.Chmod(opts.StorageRoot, 0o711); err != nil {
		store.Shutdown(false)
		return nil, err
	}
	s := &Service{
		opts:  opts,
		store: store,
		pulls: map[string]*pullOp{},
		info:  map[string]*imageInfo{},
	}
	s.sys = &types.SystemContext{
		SystemRegistriesConfPath:    opts.RegistriesConf,
		SystemRegistriesConfDirPath: opts.RegistriesConf + ".d",
		SignaturePolicyPath:         opts.SignaturePolicy,
		BigFilesTemporaryDir:        s.tmpDir(),
		// Not the host-wide /var/lib/containers/cache: cria's state stays
		// under its own root.
		BlobInfoCacheDir:        filepath.Join(opts.StorageRoot, BlobInfoCacheDir),
		DockerRegistryUserAgent: opts.UserAgent,
	}
	if err := s.sweepTemp(); err != nil {
		s.Close()
		return nil, err
	}
	if err := os.WriteFile(s.emptyRegistriesConf(), nil, 0o600); err != nil {
		s.Close()
		return nil, fmt.Errorf("writing an empty registries.conf: %w", err)
	}
	if err := s.removeUnusedLayers(); err != nil {
		opts.Log.Warn("removing layers left by an interrupted pull", "error", err)
	}
	return s, nil
}

// BlobInfoCacheDir is where, under the storage root, containers/image keeps
// what it learnt of blobs (their compressed and uncompressed digests, and
// where they were seen).
const BlobInfoCacheDir = "blob-info-cache"

// Close releases the store: unmounts what it mounted and drops its locks.
func (s *Service) Close() error {
	_, err := s.store.Shutdown(false)
	return err
}

// tmpDir holds a pull's blobs until they are committed to the store.
func (s *Service) tmpDir() string { return filepath.Join(s.opts.StorageRoot, "cria-tmp") }

// sweepTemp empties tmpDir: anything in it belongs to a pull that a crash
// interrupted (no pull runs before New returns).
func (s *Service) sweepTemp() error {
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return fmt.Errorf("sweeping pull temporary files: %w", err)
	}
	if err := os.MkdirAll(s.tmpDir(), 0o700); err != nil {
		return fmt.Errorf("creating pull temporary directory: %w", err)
	}
	return nil
}

// removeUnusedLayers deletes layers that no image and no container uses:
// what a failed, cancelled or interrupted pull committed before it stopped.
// Callers make sure no pull is in flight (its layers are not yet used).
func (s *Service) removeUnusedLayers() error {
	layers, err := s.store.Layers()
	if err != nil {
		return err
	}
	byID := make(map[string]*storage.Layer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	used := map[string]bool{}
	markChain := func(id string) {
		for id != "" && !used[id] {
			used[id] = true
			l := byID[id]
			if l == nil {
				return
			}
			id = l.Parent
		}
	}
	images, err := s.store.Images()
	if err != nil {
		return err
	}
	for _, img := range images {
		markChain(img.TopLayer)
		for _, m := range img.MappedTopLayers {
			markChain(m)
		}
	}
	containers, err := s.store.Containers()
	if err != nil {
		return err
	}
	for _, c := range containers {
		markChain(c.LayerID)
	}
	// Delete leaves first: a layer that is some unused layer's parent goes
	// in a later round.
	var errs []error
	for {
		parents := map[string]bool{}
		for id, l := range byID {
			if !used[id] {
				parents[l.Parent] = true
			}
		}
		removed := 0
		for id := range byID {
			if used[id] || parents[id] {
				continue
			}
			if err := s.store.DeleteLayer(id); err != nil && !errors.Is(err, storage.ErrLayerUnknown) {
				errs = append(errs, fmt.Errorf("layer %s: %w", id, err))
				used[id] = true // do not retry it forever
				continue
			}
			s.opts.Log.Info("removed unused layer", "layer", id)
			delete(byID, id)
			removed++
		}
		if removed == 0 {
			return errors.Join(errs...)
		}
	}
}
