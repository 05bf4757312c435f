// Package atomicfile is the only way cria's state reaches disk: write a
// temporary file, fsync it, rename it over the target, fsync the directory.
// A crash at any point leaves either the old content or the new, never a
// mix, and a completed write survives power loss. Replace is the same
// without the fsyncs, for files that mean nothing after a reboot. It
// imports only os, so the small monitor can use it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile atomically and durably replaces path with data (mode perm).
// The parent directory must exist.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// Replace atomically replaces path with data (mode perm), as WriteFile
// does, but does not wait for the disk: a crash of the writer leaves the
// old content or the new, power loss may leave neither. It is for what a
// reboot makes meaningless anyway, such as the pid of a running process,
// and saves the two fsyncs where /run is not a tmpfs.
func Replace(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, durable bool) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return &os.PathError{Op: "atomic write", Path: path, Err: err}
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return &os.PathError{Op: "atomic write", Path: path, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		return &os.PathError{Op: "atomic write", Path: path, Err: err}
	}
	if durable {
		if err := f.Sync(); err != nil {
			return &os.PathError{Op: "atomic write (fsync)", Path: path, Err: err}
		}
	}
	if err := f.Close(); err != nil {
		return &os.PathError{Op: "atomic write (close)", Path: path, Err: err}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return &os.PathError{Op: "atomic write (rename)", Path: path, Err: err}
	}
	if !durable {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making renames and removals in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}
