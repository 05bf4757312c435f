package main

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// listener is a unix stream socket that the monitor accepts on. It is an
// os.File on a non-blocking descriptor, so waiting for a client parks a
// goroutine in the runtime's poller as the net package would, without
// linking net.
type listener struct {
	f  *os.File
	rc syscall.RawConn
}

// listen listens on the socket name in dir, replacing a stale one.
func listen(dir, name string) (*listener, error) {
	os.Remove(filepath.Join(dir, name))
	path, release, err := wire.SocketPath(dir, name)
	if err != nil {
		return nil, err
	}
	defer release()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "bind", Path: filepath.Join(dir, name), Err: err}
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("listen", err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, name))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &listener{f: f, rc: rc}, nil
}

// accept waits for the next connection. It fails once the listener is
// closed.
func (l *listener) accept() (*os.File, error) {
	for {
		var fd int
		var acceptErr error
		err := l.rc.Read(func(lfd uintptr) bool {
			fd, _, acceptErr = unix.Accept4(int(lfd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			return !errors.Is(acceptErr, unix.EAGAIN)
		})
		switch {
		case err != nil:
			return nil, err
		case errors.Is(acceptErr, unix.EINTR), errors.Is(acceptErr, unix.ECONNABORTED):
			continue
		case acceptErr != nil:
			return nil, os.NewSyscallError("accept4", acceptErr)
		}
		return os.NewFile(uintptr(fd), l.f.Name()), nil
	}
}

// serve handles each connection in a goroutine of its own, and closes it
// after, until the listener is closed.
func (l *listener) serve(handle func(c *os.File)) {
	for {
		c, err := l.accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

func (l *listener) Close() error { return l.f.Close() }
