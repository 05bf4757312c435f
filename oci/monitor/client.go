package monitor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// Start runs a monitor for o from the monitor binary, detached in a session
// of its own so that it outlives the daemon, and waits up to timeout for it
// to report the container started. It returns the monitor's and the
// container init's pids. If the container failed to start, the error says
// why and the monitor has exited.
func Start(monitorBin string, o Options, timeout time.Duration) (monitorPid, initPid int, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	stderr, err := os.OpenFile(filepath.Join(o.Dir, wire.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return 0, 0, err
	}
	defer stderr.Close()
	cmd := exec.Command(monitorBin, o.Args()...)
	cmd.Stderr = stderr
	cmd.ExtraFiles = []*os.File{w} // fd 3: wire.SyncFd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, 0, fmt.Errorf("starting the container monitor: %w", err)
	}
	w.Close()
	// Reap it if it exits while this daemon is its parent.
	go func() { _ = cmd.Wait() }()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case line := <-lines:
		if pidStr, ok := strings.CutPrefix(line, "ok "); ok {
			pid, err := strconv.Atoi(pidStr)
			if err != nil {
				return 0, 0, fmt.Errorf("monitor said %q", line)
			}
			return cmd.Process.Pid, pid, nil
		}
		if why, ok := strings.CutPrefix(line, "error "); ok {
			return 0, 0, fmt.Errorf("starting container: %s", why)
		}
		return 0, 0, fmt.Errorf("the container monitor exited without a word (see %s)", stderr.Name())
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return 0, 0, fmt.Errorf("the container did not start within %s", timeout)
	}
}

// Reopen asks the monitor of the container in dir to reopen its log file.
func Reopen(dir string) error {
	c, err := dialSocket(dir, wire.SocketFile)
	if err != nil {
		return fmt.Errorf("reaching the container monitor: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c, "reopen"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the monitor's answer: %w", err)
	}
	if line != "ok\n" {
		return fmt.Errorf("monitor: %s", strings.TrimSpace(line))
	}
	return nil
}
