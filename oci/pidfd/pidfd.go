// Package pidfd waits for processes to end without holding an OS thread.
//
// A blocking wait (os.Process.Wait, exec.Cmd.Wait) takes a thread for as
// long as the process lives: one per container monitor and pause process
// is hundreds of idle threads on a full node. A pidfd parked in Go's
// poller takes none; it becomes readable when its process ends, and only
// then is the process reaped, which no longer blocks.
package pidfd

import (
	"context"
	"errors"
	"os"
	"os/exec"
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

// WaitProcess is p.Wait that holds no thread while the process runs.
func WaitProcess(proc *os.Process) (*os.ProcessState, error) {
	if p, err := Open(proc.Pid); err == nil {
		_ = p.Wait()
		p.Close()
	}
	return proc.Wait()
}
