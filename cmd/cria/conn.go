package main

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// The CRI socket's connections read and write without telling Go's
// scheduler that they enter the kernel.
//
// A read or a write through net.Conn is a system call that the scheduler
// is told of (entersyscall), and a goroutine that enters one while the
// scheduler's monitor thread (sysmon) sleeps, because every P was idle,
// wakes that thread. A kubelet's calls come one at a time with the daemon
// idle between them, so every call woke it: more threads put to sleep
// and woken a call, and a quarter of what a node's polling costs the
// daemon. The monitor is there to take a P back from a call that blocks;
// a read or a write of a non-blocking socket never blocks, so quietConn
// makes them raw system calls, and waits for the socket through Go's
// poller as net.Conn does (deadlines and Close included).
//
// BenchmarkConnRoundTrip measures it; make bench-scale shows it in the
// daemon's CPU (see the README).

// quietListener hands out its unix connections as quietConns.
type quietListener struct{ net.Listener }

func (l quietListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return quiet(c), nil
}

// quiet makes c a quietConn if it is a unix connection.
func quiet(c net.Conn) net.Conn {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return c
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return c
	}
	return &quietConn{UnixConn: uc, raw: rc}
}

// quietConn is a unix connection whose Read and Write are raw system
// calls on its non-blocking socket.
type quietConn struct {
	*net.UnixConn
	raw syscall.RawConn
}

func (c *quietConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *quietConn) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until writable
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError wraps err as net.Conn's errors are; an error of the raw
// connection (closed, past a deadline) is one already, of its own op.
func (c *quietConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "unix", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
