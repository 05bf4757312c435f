package cri

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/monitor/wire"
	"github.com/cria-runtime/cria/oci/runtime"
)

// CheckpointContainer dumps a running container with CRIU, leaving it
// running, into a tar archive at the request's location: the CRIU images
// under checkpoint/, with the OCI spec (spec.dump) and the CRI config
// (config.dump). The location must be a new file directly in the
// configured checkpoint_dir (the kubelet's). Without a working CRIU it
// fails with FailedPrecondition saying what is missing.
func (s *RuntimeService) CheckpointContainer(ctx context.Context, req *runtimeapi.CheckpointContainerRequest) (*runtimeapi.CheckpointContainerResponse, error) {
	if _, err := s.containers.Get(req.GetContainerId()); err != nil {
		return nil, err
	}
	loc := req.GetLocation()
	dir := s.opts.Config.CheckpointDir
	if !filepath.IsAbs(loc) || filepath.Clean(loc) != loc || filepath.Dir(loc) != dir {
		return nil, invalid("location %q must be a file directly in the checkpoint directory %s", loc, dir)
	}
	if _, err := os.Lstat(loc); err == nil {
		return nil, fmt.Errorf("location %s already exists: %w", loc, errdefs.ErrAlreadyExists)
	}
	if err := runtime.CheckpointSupported(); err != nil {
		return nil, fmt.Errorf("checkpointing: %v: %w", err, errdefs.ErrFailedPrecondition)
	}
	c, unlock, err := s.lockContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c = s.observe(c); c.State != store.ContainerRunning {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(s.opts.Config.Root, "checkpoint-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := s.opts.Runtime.Checkpoint(c.ID, tmp); err != nil {
		return nil, err
	}
	spec, err := readFile(c.Dir, wire.SpecFile)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "spec.dump"), spec, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "config.dump"), c.Config, 0o600); err != nil {
		return nil, err
	}
	if err := writeTar(loc, tmp); err != nil {
		return nil, fmt.Errorf("writing the checkpoint archive: %w", err)
	}
	return &runtimeapi.CheckpointContainerResponse{}, nil
}

// writeTar archives dir (without its work/ logs) into path, through a
// temporary file renamed into place, so a failure leaves no partial archive.
func writeTar(path, dir string) (retErr error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || rel == "work" || filepath.Dir(rel) == "work" {
			if d.IsDir() && rel == "work" {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = rel
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			if _, err := io.Copy(tw, src); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Never over a file made meanwhile, and durably.
	if err := unix.Renameat2(unix.AT_FDCWD, f.Name(), unix.AT_FDCWD, path, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("location %s already exists: %w", path, errdefs.ErrAlreadyExists)
		}
		return &os.LinkError{Op: "rename", Old: f.Name(), New: path, Err: err}
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}
