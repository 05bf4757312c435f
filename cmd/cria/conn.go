package main

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The CRI socket's connections wake the daemon only when a kubelet's call
// comes, and read and write without telling Go's scheduler that they
// enter the kernel.
//
// Go's poller watches every socket for input and for room to write, so a
// unix connection woke the daemon twice a call: once when the call came,
// and once when the kubelet read the answer (the kernel reports the room
// that this frees, although nothing waits to write). A quietConn's socket
// is in no poller of Go's. Two epoll sets of its own (relays) watch it,
// and Go's poller watches them: one for input, always; one for room to
// write, only while a write waits for it. So the kubelet's reads of the
// answers wake nothing.
//
// A read or a write through net.Conn is also a system call that the
// scheduler is told of (entersyscall), and a goroutine that enters one
// while the scheduler's monitor thread (sysmon) sleeps, because every P
// was idle, wakes that thread. The monitor is there to take a P back from
// a call that blocks; a read or a write of a non-blocking socket never
// blocks, so quietConn makes them raw system calls.
//
// Reads and writes wait through the relays as net.Conn waits through its
// socket (deadlines and Close included), and every system call on the
// socket is made inside a relay's RawConn callback, so that Close never
// closes the socket under a call in progress. BenchmarkConnRoundTrip
// measures it; make bench-scale shows it in the daemon's CPU (see the
// README).

// quietListener hands out its unix connections as quietConns, accepted
// with a raw accept4 so that Go's poller never holds them. It waits for
// them on a duplicate of the listener's socket (a net.Listener's own
// RawConn cannot wait).
type quietListener struct {
	net.Listener
	dup     *os.File
	raw     syscall.RawConn
	closing atomic.Bool
}

// listenQuietly makes ln, a unix listener, hand out quietConns.
func listenQuietly(ln *net.UnixListener) (*quietListener, error) {
	dup, err := ln.File()
	if err != nil {
		return nil, err
	}
	// The duplicate shares the socket's non-blocking mode; os.NewFile,
	// under File, put it in Go's poller.
	raw, err := dup.SyscallConn()
	if err != nil {
		dup.Close()
		return nil, err
	}
	return &quietListener{Listener: ln, dup: dup, raw: raw}, nil
}

func (l *quietListener) Accept() (net.Conn, error) {
	fd := -1
	var errno error
	err := l.raw.Read(func(lfd uintptr) bool {
		for {
			fd, _, errno = unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch errno {
			case unix.EINTR, unix.ECONNABORTED:
				continue
			case unix.EAGAIN:
				return false // wait for a connection
			}
			return true
		}
	})
	switch {
	case err != nil:
		if l.closing.Load() {
			err = net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: "unix", Addr: l.Addr(), Err: opErr(err)}
	case errno != nil:
		return nil, &net.OpError{Op: "accept", Net: "unix", Addr: l.Addr(), Err: os.NewSyscallError("accept4", errno)}
	}
	c, err := newQuietConn(fd, l.Addr())
	if err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "accept", Net: "unix", Addr: l.Addr(), Err: err}
	}
	return c, nil
}

// Close ends a wait in Accept, then closes the listener.
func (l *quietListener) Close() error {
	l.closing.Store(true)
	return errors.Join(l.dup.Close(), l.Listener.Close())
}

// quietConn is a unix connection whose socket (non-blocking, in no poller
// of Go's) is read and written with raw system calls, and waited for
// through two relays.
type quietConn struct {
	fd            int
	local, remote net.Addr
	// rd relays the socket's input (and its end); wr its room to write,
	// while armed.
	rd, wr       *os.File
	rdRaw, wrRaw syscall.RawConn
	// armed tells that wr watches for room to write. Only wr's callbacks,
	// which wr's lock serialises, touch it.
	armed bool

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// newQuietConn makes a quietConn of an accepted socket, fd, whose end is
// local.
func newQuietConn(fd int, local net.Addr) (*quietConn, error) {
	c := &quietConn{fd: fd, local: local, remote: &net.UnixAddr{Net: "unix"}}
	if sa, err := unix.Getpeername(fd); err == nil {
		if u, ok := sa.(*unix.SockaddrUnix); ok && u.Name != "" {
			c.remote = &net.UnixAddr{Name: u.Name, Net: "unix"}
		}
	}
	var err error
	if c.rd, c.rdRaw, err = relay(fd, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
		return nil, err
	}
	// Errors and hang-ups only (epoll always reports those), until a
	// write waits.
	if c.wr, c.wrRaw, err = relay(fd, 0); err != nil {
		c.rd.Close()
		return nil, err
	}
	return c, nil
}

// relay makes an epoll set that watches fd for events, in Go's poller: it
// is readable when fd has one of them.
func relay(fd int, events uint32) (*os.File, syscall.RawConn, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}); err != nil {
		unix.Close(ep)
		return nil, nil, os.NewSyscallError("epoll_ctl", err)
	}
	// Non-blocking, so that os.NewFile puts it in Go's poller.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(ep), "cri-relay")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

func (c *quietConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rdRaw.Read(func(uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until the relay says readable
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
	err := c.wrRaw.Read(func(wr uintptr) bool {
		for n < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				// Have the relay watch for room, then wait for it: if
				// there is room already, the relay is readable at once.
				if err := c.arm(wr, true); err != 0 {
					errno = err
					return true
				}
				return false
			default:
				errno = e
				c.arm(wr, false)
				return true
			}
		}
		c.arm(wr, false)
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

// arm has relay wr watch the socket for room to write, or stop. A write
// that ends past its deadline leaves it armed, until the next write ends.
func (c *quietConn) arm(wr uintptr, on bool) syscall.Errno {
	if c.armed == on {
		return 0
	}
	events := uint32(0)
	if on {
		events = unix.EPOLLOUT
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, wr, unix.EPOLL_CTL_MOD, uintptr(c.fd), uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 {
		return e
	}
	c.armed = on
	return 0
}

// Close ends both relays, waiting out the calls in their callbacks, then
// closes the socket.
func (c *quietConn) Close() error {
	closed := false
	c.closeOnce.Do(func() {
		closed = true
		c.closing.Store(true)
		errR, errW := c.rd.Close(), c.wr.Close()
		c.closeErr = errors.Join(errR, errW)
		if err := unix.Close(c.fd); err != nil && c.closeErr == nil {
			c.closeErr = os.NewSyscallError("close", err)
		}
	})
	if !closed {
		return c.opError("close", net.ErrClosed)
	}
	if c.closeErr != nil {
		return c.opError("close", c.closeErr)
	}
	return nil
}

func (c *quietConn) LocalAddr() net.Addr  { return c.local }
func (c *quietConn) RemoteAddr() net.Addr { return c.remote }

func (c *quietConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

func (c *quietConn) SetReadDeadline(t time.Time) error { return c.rd.SetReadDeadline(t) }

// SetWriteDeadline bounds the wait on wr, which a write waits on as a
// read (an epoll set is readable, never writable).
func (c *quietConn) SetWriteDeadline(t time.Time) error { return c.wr.SetReadDeadline(t) }

// opError wraps err as net.Conn's errors are: a relay's error after
// Close is net.ErrClosed.
func (c *quietConn) opError(op string, err error) error {
	if c.closing.Load() && !errors.Is(err, os.ErrDeadlineExceeded) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "unix", Source: c.local, Addr: c.remote, Err: opErr(err)}
}

// opErr is the cause of a RawConn's error, as net.Conn reports it.
func opErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err
}
