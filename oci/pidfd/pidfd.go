// Package pidfd waits for processes to end without holding an OS thread.
//
// A blocking wait (os.Process.Wait, exec.Cmd.Wait) takes a thread for as
// long as the process lives: one per container monitor and pause process
// is hundreds of idle threads on a full node. A pidfd becomes readable
// when its process ends, and only then is the process reaped, which no
// longer blocks. OnExit watches any number of them from one epoll set and
// one thread, with no goroutine per process; Process.Wait parks one
// goroutine in Go's poller, for a caller that waits anyway.
package pidfd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a pidfd of a process.
type Process struct {
	f *os.File
}

// Open returns a pidfd of process pid. It refers to that process for as
// long as it is open, even once the pid is reused; the caller checks that
// pid was the process it means when opened (for a child not yet reaped it
// always is). An ended process that is reaped already gives ESRCH.
func Open(pid int) (*Process, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &Process{f: os.NewFile(uintptr(fd), "pidfd")}, nil
}

// Wait returns once the process has ended, parked in Go's poller meanwhile.
func (p *Process) Wait() error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	// The function runs again each time the pidfd turns readable, which
	// it does when the process ends.
	return rc.Read(func(fd uintptr) bool { return ended(int(fd)) })
}

// WaitUntil is Wait that gives up at deadline or when ctx ends, with the
// error of os.ErrDeadlineExceeded or ctx's.
func (p *Process) WaitUntil(ctx context.Context, deadline time.Time) error {
	if err := p.f.SetReadDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = p.f.SetReadDeadline(time.Now()) })
	defer stop()
	err := p.Wait()
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Ended tells whether the process has ended, without waiting.
func (p *Process) Ended() bool {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return false
	}
	done := false
	_ = rc.Control(func(fd uintptr) { done = ended(int(fd)) })
	return done
}

// Close releases the pidfd.
func (p *Process) Close() error { return p.f.Close() }

// ended tells whether the pidfd fd is readable: its process has ended
// (exited and, if it is not a child, reaped; a child is a zombie).
func ended(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	}
}

// WaitCmd is cmd.Wait that holds no thread while the process runs: it
// waits on a pidfd first (where the kernel has them) and reaps after.
func WaitCmd(cmd *exec.Cmd) error {
	if p, err := Open(cmd.Process.Pid); err == nil {
		_ = p.Wait()
		p.Close()
	}
	return cmd.Wait()
}

// watcher is the epoll set that OnExit adds pidfds to, and the goroutine
// that waits on it.
type watcher struct {
	epfd int
	mu   sync.Mutex
	// watches are what runs when a pidfd turns readable, by pidfd.
	watches map[int32]*watch
}

type watch struct{ fn func() }

var (
	theWatcher  *watcher
	watcherErr  error
	watcherOnce sync.Once
)

// OnExit runs fn in a goroutine of its own once process pid has ended (as
// Process.Wait tells), or at once if it is gone already. Nothing waits
// for it meanwhile but one epoll set, shared by every call. cancel drops
// the watch, and tells whether it did so before fn was started. The caller checks that pid was the
// process it means when OnExit was called (for a child not yet reaped it
// always is). It fails only where the kernel has no pidfds.
func OnExit(pid int, fn func()) (cancel func() bool, err error) {
	watcherOnce.Do(func() { theWatcher, watcherErr = newWatcher() })
	if watcherErr != nil {
		return nil, watcherErr
	}
	return theWatcher.add(pid, fn)
}

func newWatcher() (*watcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Probe: a kernel without pidfd_open fails here, not per call.
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	unix.Close(fd)
	w := &watcher{epfd: epfd, watches: map[int32]*watch{}}
	go w.run()
	return w, nil
}

func (w *watcher) add(pid int, fn func()) (func() bool, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		go fn()
		return func() bool { return false }, nil
	}
	if err != nil {
		return nil, err
	}
	key, wt := int32(fd), &watch{fn: fn}
	w.mu.Lock()
	w.watches[key] = wt
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: key}
	err = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if err != nil {
		delete(w.watches, key)
	}
	w.mu.Unlock()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() bool { return w.drop(key, wt) }, nil
}

// drop removes the watch wt of pidfd key, unless it has run, and tells
// whether it did.
func (w *watcher) drop(key int32, wt *watch) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watches[key] != wt {
		return false
	}
	delete(w.watches, key)
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, int(key), nil)
	unix.Close(int(key))
	return true
}

// run waits on the epoll set for good: one thread, blocked in epoll_wait.
func (w *watcher) run() {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(fmt.Sprintf("pidfd: epoll_wait: %v", err))
		}
		for _, ev := range events[:n] {
			w.mu.Lock()
			wt, ok := w.watches[ev.Fd]
			if ok {
				delete(w.watches, ev.Fd)
				_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, int(ev.Fd), nil)
				unix.Close(int(ev.Fd))
			}
			w.mu.Unlock()
			if ok {
				go wt.fn()
			}
		}
	}
}
