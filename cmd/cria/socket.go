package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socketMode is the CRI socket's mode: root (and root's group) only.
const socketMode = 0o660

// listenCRI binds the CRI socket at path and returns the listener and a
// function that removes the socket and releases the lock.
//
// Exactly one cria serves a socket. A lock file beside the socket (held with
// flock for the daemon's lifetime, so the kernel releases it if the daemon
// dies) decides who that is; a live socket that answers a connection is
// refused too, in case something other than cria serves it. A socket file
// left by a daemon that crashed is removed and bound anew. Anything at path
// that is not a socket is left alone and refused.
func listenCRI(path string) (ln *net.UnixListener, release func(), retErr error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, nil, fmt.Errorf("creating socket directory: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening socket lock: %w", err)
	}
	defer func() {
		if retErr != nil {
			lock.Close()
		}
	}()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("socket %s is in use by another cria (pid %s); stop it first", path, lockHolder(lock))
		}
		return nil, nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}

	switch fi, err := os.Lstat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, err
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, nil, fmt.Errorf("%s exists and is not a socket (%s); refusing to replace it", path, fi.Mode().Type())
	default:
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, nil, fmt.Errorf("socket %s is served by another process; stop it first", path)
		}
		// We hold the lock and nobody answers: a crashed daemon's socket.
		if err := os.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}

	// Bind with a umask that leaves the socket owner-only until the chmod,
	// so it is never reachable by others, even for an instant.
	old := syscall.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		l.Close()
		return nil, nil, fmt.Errorf("setting socket mode: %w", err)
	}
	if err := lock.Truncate(0); err == nil {
		_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return l, func() {
		l.Close()
		os.Remove(path)
		lock.Close()
	}, nil
}

// lockHolder reads the pid that the holder of lock wrote into it.
func lockHolder(lock *os.File) string {
	b := make([]byte, 32)
	n, _ := lock.ReadAt(b, 0)
	if pid := strings.TrimSpace(string(b[:n])); pid != "" {
		return pid
	}
	return "unknown"
}
