package monitor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/oci/monitor/wire"
	"github.com/cria-runtime/cria/oci/pidfd"
)

// Launcher starts container monitors. It keeps one monitor, with its start
// helper, started ahead in standby, so that a CreateContainer finds their
// two execs and runtime start-ups already paid. The first create spawns its
// own; each create takes the standby, and Refill spawns the next one in the
// background once the caller has finished with the create. A standby that
// is never used exits when the Launcher is closed or the daemon goes away
// (its options pipe reaches EOF), and takes its helper with it.
type Launcher struct {
	bin, helper string
	cgroup      *cgroups.ProcessCgroup

	mu      sync.Mutex // protects ready, filling, closed
	ready   *standby
	filling bool
	closed  bool
}

// NewLauncher starts monitors from monitorBin, each with the start helper
// helper. If cg is not nil, each monitor is moved into it as soon as it
// has started, out of the daemon's cgroup.
func NewLauncher(monitorBin, helper string, cg *cgroups.ProcessCgroup) *Launcher {
	return &Launcher{bin: monitorBin, helper: helper, cgroup: cg}
}

// standby is a monitor waiting for its container.
type standby struct {
	cmd     *exec.Cmd
	options *os.File // write end of its wire.OptionsFd
	sync    *os.File // read end of its wire.SyncFd
}

func (l *Launcher) spawn() (*standby, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncW.Close()
	optR, optW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		return nil, err
	}
	defer optR.Close()
	cmd := exec.Command(l.bin, "standby", l.helper)
	cmd.ExtraFiles = []*os.File{syncW, optR} // wire.SyncFd, wire.OptionsFd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		syncR.Close()
		optW.Close()
		return nil, fmt.Errorf("starting the container monitor: %w", err)
	}
	// Reap it if it exits while this daemon is its parent.
	if _, err := pidfd.OnExit(cmd.Process.Pid, func() { _ = cmd.Wait() }); err != nil {
		go func() { _ = cmd.Wait() }()
	}
	sb := &standby{cmd: cmd, options: optW, sync: syncR}
	if l.cgroup != nil {
		if err := l.cgroup.Apply(cmd.Process.Pid); err != nil {
			sb.release()
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("moving the container monitor: %w", err)
		}
	}
	return sb, nil
}

// release lets a standby go: it reads no options and exits.
func (sb *standby) release() {
	sb.options.Close()
	sb.sync.Close()
}

// send gives the standby its container; on failure it is let go.
func (sb *standby) send(o wire.Options) error {
	_, err := sb.options.WriteString(strings.Join(o.Args(), "\x00"))
	if cerr := sb.options.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		sb.sync.Close()
		_ = sb.cmd.Process.Kill()
	}
	return err
}

// take returns the standby, or a new monitor if there is none ready.
func (l *Launcher) take() (*standby, error) {
	l.mu.Lock()
	sb := l.ready
	l.ready = nil
	l.mu.Unlock()
	if sb != nil {
		return sb, nil
	}
	return l.spawn()
}

// Refill starts the next standby in the background, if there is none. Call
// it once a create's own work is done, so that the two do not compete for
// the CPU.
func (l *Launcher) Refill() { go l.fill() }

func (l *Launcher) fill() {
	l.mu.Lock()
	if l.closed || l.ready != nil || l.filling {
		l.mu.Unlock()
		return
	}
	l.filling = true
	l.mu.Unlock()
	sb, err := l.spawn()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.filling = false
	if err != nil {
		return
	}
	if l.closed {
		sb.release()
		return
	}
	l.ready = sb
}

// Close lets the standby go; Create still works, without one.
func (l *Launcher) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.ready != nil {
		l.ready.release()
		l.ready = nil
	}
}

// Create runs a monitor for o, detached in a session of its own so that it
// outlives the daemon, and waits up to timeout for it to report the
// container created: its init waits for Start. It returns the monitor's
// and the init's pids. If the container could not be created, the error
// says why and the monitor has exited. Create does not replace the standby
// it used: see Refill.
func (l *Launcher) Create(o wire.Options, timeout time.Duration) (monitorPid, initPid int, err error) {
	sb, err := l.take()
	if err == nil {
		err = sb.send(o)
	}
	if err != nil {
		// The standby is gone: start one for this container alone.
		if sb, err = l.spawn(); err != nil {
			return 0, 0, err
		}
		if err := sb.send(o); err != nil {
			return 0, 0, fmt.Errorf("starting the container monitor: %w", err)
		}
	}
	defer sb.sync.Close()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(sb.sync).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case line := <-lines:
		if pidStr, ok := strings.CutPrefix(line, "ok "); ok {
			pid, err := strconv.Atoi(pidStr)
			if err != nil {
				return 0, 0, fmt.Errorf("monitor said %q", line)
			}
			return sb.cmd.Process.Pid, pid, nil
		}
		if why, ok := strings.CutPrefix(line, "error "); ok {
			return 0, 0, fmt.Errorf("creating container: %s", why)
		}
		return 0, 0, fmt.Errorf("the container monitor exited without a word (see %s)", filepath.Join(o.Dir, wire.LogFile))
	case <-time.After(timeout):
		// The monitor and its start helper (the monitor leads a session,
		// so one process group) both go, and the caller's rollback runs
		// only once they have: else the helper could finish the create
		// behind it and leave a container that nothing knows.
		killGroup(sb.cmd.Process.Pid, 10*time.Second)
		return 0, 0, fmt.Errorf("the container was not created within %s", timeout)
	}
}

// killGroup sends SIGKILL to the process group pgid and waits up to
// timeout for it to empty.
func killGroup(pgid int, timeout time.Duration) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for deadline := time.Now().Add(timeout); syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// Start asks the monitor of the created container in dir to start it, and
// returns once the container's command runs.
func Start(dir string) error { return command(dir, wire.CommandStart) }

// Reopen asks the monitor of the container in dir to reopen its log file.
func Reopen(dir string) error { return command(dir, wire.CommandReopen) }

// command sends cmd on the control socket of the monitor in dir.
func command(dir, cmd string) error {
	c, err := dialSocket(dir, wire.SocketFile)
	if err != nil {
		return fmt.Errorf("reaching the container monitor: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c, cmd); err != nil {
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
