package cri

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/runtime"
)

// Exec prepares a streaming exec in a running container and returns the
// URL to connect to.
func (s *RuntimeService) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	switch {
	case len(req.GetCmd()) == 0:
		return nil, invalid("cmd is required")
	case !req.GetStdin() && !req.GetStdout() && !req.GetStderr():
		return nil, invalid("one of stdin, stdout and stderr is required")
	case req.GetTty() && req.GetStderr():
		return nil, invalid("tty and stderr cannot both be set (a terminal has one output stream)")
	}
	if err := checkExec("cmd", req.GetCmd(), nil); err != nil {
		return nil, err
	}
	c, err := s.currentContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	if c.State != store.ContainerRunning {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	return s.opts.Streaming.GetExec(req)
}

// PortForward prepares a port-forward into a ready pod and returns the URL.
func (s *RuntimeService) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.State != store.SandboxReady {
		return nil, fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	for _, p := range req.GetPort() {
		if p <= 0 || p > 65535 {
			return nil, invalid("port %d is out of range", p)
		}
	}
	return s.opts.Streaming.GetPortForward(req)
}

// streamRuntime runs the streams that the streaming server accepted.
type streamRuntime struct{ s *RuntimeService }

// StreamRuntime returns the implementation of streaming.Runtime.
func (s *RuntimeService) StreamRuntime() *streamRuntime { return &streamRuntime{s: s} }

// Exec runs cmd in the container with the stream's stdio; with tty, through
// a pty that follows the client's terminal size. A non-zero exit is
// reported as an ExitError, which the stream carries to the client.
func (r *streamRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errW io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, err := r.s.currentContainer(id)
	if err != nil {
		return err
	}
	if c.State != store.ContainerRunning {
		return fmt.Errorf("container %s is not running", c.ID)
	}
	proc, err := execProcess(c, cmd)
	if err != nil {
		return err
	}
	proc.Terminal = tty
	var stdout, stderr io.Writer
	if out != nil {
		stdout = out
	}
	if errW != nil {
		stderr = errW
	}
	p, err := r.s.opts.Runtime.Exec(c.ID, proc, in, stdout, stderr)
	if err != nil {
		return err
	}
	var copies sync.WaitGroup
	if tty {
		master := p.Terminal
		defer master.Close()
		if in != nil {
			go func() { _, _ = io.Copy(master, in) }()
		}
		if out != nil {
			copies.Add(1)
			go func() { defer copies.Done(); _, _ = io.Copy(out, master) }()
		}
		go func() {
			for size := range resize {
				_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
			}
		}()
	}
	code, waitErr := waitOrKill(ctx, p)
	if tty {
		// Children the command left behind may hold the terminal: its
		// output is read for runtime.ExecDrain at most, as a pipe's is.
		drained := make(chan struct{})
		go func() { copies.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(runtime.ExecDrain):
			p.Terminal.Close()
			<-drained
		}
	}
	if waitErr != nil && code < 0 {
		return waitErr
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", cmd, code), Code: code}
	}
	return nil
}

// Attach connects the stream to the container's monitor: output from now
// on, stdin if the container keeps it open, and terminal resizes. It
// returns when the container exits or the client goes away.
func (r *streamRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errW io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, err := r.s.currentContainer(id)
	if err != nil {
		return err
	}
	var sizes chan [2]uint16
	if resize != nil {
		sizes = make(chan [2]uint16)
		go func() {
			defer close(sizes)
			for sz := range resize {
				select {
				case sizes <- [2]uint16{sz.Width, sz.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var stdout, stderr io.Writer
	if out != nil {
		stdout = out
	}
	if errW != nil {
		stderr = errW
	}
	done := make(chan error, 1)
	go func() { done <- monitor.Attach(c.Dir, in, stdout, stderr, sizes) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Attach prepares a streaming attach to a running container and returns
// the URL to connect to.
func (s *RuntimeService) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if !req.GetStdin() && !req.GetStdout() && !req.GetStderr() {
		return nil, invalid("one of stdin, stdout and stderr is required")
	}
	c, err := s.currentContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	if c.State != store.ContainerRunning {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	cfg := containerConfig(c)
	if req.GetStdin() && !cfg.GetStdin() {
		return nil, fmt.Errorf("container %s was not created with stdin open: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	if req.GetTty() != cfg.GetTty() {
		return nil, invalid("tty is %v, but the container was created with tty %v", req.GetTty(), cfg.GetTty())
	}
	return s.opts.Streaming.GetAttach(req)
}

// PortForward connects stream to port on the pod's loopback, from inside
// the pod's network namespace (or the host's, for a host-network pod).
func (r *streamRuntime) PortForward(ctx context.Context, podID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	sb, err := r.s.sandboxes.Get(podID)
	if err != nil {
		return err
	}
	var conn net.Conn
	dial := func() (err error) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
		if conn, err = net.Dial("tcp4", addr); err != nil {
			var err6 error
			if conn, err6 = net.Dial("tcp6", net.JoinHostPort("::1", strconv.Itoa(int(port)))); err6 != nil {
				return err
			}
		}
		return nil
	}
	if sb.NetNS != "" {
		err = network.InNetNS(sb.NetNS, dial)
	} else {
		err = dial()
	}
	if err != nil {
		return fmt.Errorf("port-forward to port %d of pod %s: %w", port, sb.ID, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); conn.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	<-done
	return nil
}
