// Package console receives a container's pty master from libcontainer over
// a console socket. It imports only os and x/sys, so the small monitor can
// use it.
package console

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Pair makes the socket pair over which libcontainer hands the
// container's pty master back: the helper gets child (as its console
// socket), the monitor keeps parent.
func Pair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("console socket pair: socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "console-parent"), os.NewFile(uintptr(fds[1]), "console-child"), nil
}

// Receive receives the pty master that libcontainer sends with
// SCM_RIGHTS.
func Receive(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("receiving the container's terminal: recvmsg", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receiving the container's terminal: no descriptor sent")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("receiving the container's terminal: bad descriptor message")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
