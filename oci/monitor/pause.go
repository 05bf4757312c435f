package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/monitor/wire"
	"github.com/cria-runtime/cria/oci/pidfd"
)

// PauseOptions say where a pod's pause process runs.
type PauseOptions struct {
	// Binary is cria-monitor. The pause runs from a sealed in-memory copy
	// of it, so that /proc/1/exe in the pod's containers leads to nothing
	// on the host's disk.
	Binary string
	// Root is an existing, empty directory over which the pause mounts its
	// own empty root in its private mount namespace; nothing of that is
	// visible outside it.
	Root string
	// Net, IPC and UTS are the pins of the pod's namespaces that the pause
	// joins; an empty path keeps the host's.
	Net, IPC, UTS string
	// UserNS, when set, has the pause born in a new user namespace that
	// owns its PID namespace and its new network, IPC and UTS namespaces
	// (Net, IPC and UTS are then not joined): the caller pins them from
	// the process.
	UserNS *UserNS
}

// UserNS is a new user namespace's mappings and the namespaces it owns.
type UserNS struct {
	UIDs, GIDs    []syscall.SysProcIDMap
	Net, IPC, UTS bool
}

// Pause is a pause process that has confined itself and waits for Release.
type Pause struct {
	Pid   int
	Start uint64 // see wire.ProcessStart
	// Exited is closed when the process ends, while this daemon is its
	// parent.
	Exited <-chan struct{}

	cmd    *exec.Cmd
	goPipe *os.File
}

// StartPause starts a pause process: PID 1 of a new PID namespace, in a
// new mount namespace and the pod's other namespaces, detached (its own
// session) so that it outlives the daemon. It returns once the process has
// confined itself. The process waits: the caller records it durably and
// then calls Release; if the daemon dies before that, the pause ends by
// itself, so that no pause is ever left unrecorded.
func StartPause(o PauseOptions) (_ *Pause, retErr error) {
	bin, err := sealedCopy(o.Binary)
	if err != nil {
		return nil, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer reportR.Close()
	defer reportW.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer goR.Close()
	defer func() {
		if retErr != nil {
			goW.Close()
		}
	}()

	cmd := &exec.Cmd{
		// The sealed copy is passed as a descriptor of the child's own
		// (wire.PauseBinaryFd), which its execve opens by path: the
		// daemon's descriptor number could be taken by ExtraFiles.
		Path:       fmt.Sprintf("/proc/self/fd/%d", wire.PauseBinaryFd),
		Args:       []string{"cria-monitor", "pause", o.Root},
		Env:        []string{},
		Stdin:      devnull,
		Stdout:     devnull,
		Stderr:     devnull,
		ExtraFiles: []*os.File{reportW, goR, bin}, // wire.SyncFd, wire.OptionsFd, wire.PauseBinaryFd
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
			Setsid:     true,
		},
	}
	join := map[int]string{unix.CLONE_NEWNET: o.Net, unix.CLONE_NEWIPC: o.IPC, unix.CLONE_NEWUTS: o.UTS}
	if u := o.UserNS; u != nil {
		// One clone makes the user namespace first, then the others,
		// owned by it.
		join = nil
		a := cmd.SysProcAttr
		a.Cloneflags |= syscall.CLONE_NEWUSER
		for _, n := range []struct {
			want bool
			flag uintptr
		}{{u.Net, syscall.CLONE_NEWNET}, {u.IPC, syscall.CLONE_NEWIPC}, {u.UTS, syscall.CLONE_NEWUTS}} {
			if n.want {
				a.Cloneflags |= n.flag
			}
		}
		a.UidMappings, a.GidMappings, a.GidMappingsEnableSetgroups = u.UIDs, u.GIDs, true
		// Root of the new namespace (the daemon's uid is not mapped in
		// it), so that its capabilities there survive the execve.
		a.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if err := startInNamespaces(cmd, join); err != nil {
		return nil, fmt.Errorf("starting the pod's pause process: %w", err)
	}
	exited := make(chan struct{})
	reap := func() { _ = cmd.Wait(); close(exited) }
	if _, err := pidfd.OnExit(cmd.Process.Pid, reap); err != nil {
		go reap()
	}
	p := &Pause{Pid: cmd.Process.Pid, Exited: exited, cmd: cmd, goPipe: goW}
	defer func() {
		if retErr != nil {
			p.Kill()
		}
	}()
	reportW.Close()
	line, err := bufio.NewReader(reportR).ReadString('\n')
	switch {
	case line == "ok\n":
	case strings.HasPrefix(line, "error "):
		return nil, fmt.Errorf("the pause process could not confine itself: %s", strings.TrimSpace(strings.TrimPrefix(line, "error ")))
	case errors.Is(err, io.EOF):
		return nil, errors.New("the pause process exited while confining itself")
	default:
		return nil, fmt.Errorf("reading the pause process's report: %v %q", err, line)
	}
	if p.Start, err = wire.ProcessStart(p.Pid); err != nil {
		return nil, fmt.Errorf("the pause process: %w", err)
	}
	return p, nil
}

// Release lets the pause run on its own, once the caller has recorded it.
func (p *Pause) Release() error {
	_, err := p.goPipe.WriteString("go")
	if cerr := p.goPipe.Close(); err == nil {
		err = cerr
	}
	return err
}

// Kill ends a pause that has not been released and waits for it.
func (p *Pause) Kill() {
	_ = p.cmd.Process.Kill()
	p.goPipe.Close()
	<-p.Exited
}

// startInNamespaces starts cmd from a thread that has joined the given
// namespaces (clone flag → pin; empty pins are skipped), so that the child
// is born in them. The thread is thrown away afterwards: Go ends a locked
// thread whose goroutine exits, so the namespaces never leak to other
// goroutines.
func startInNamespaces(cmd *exec.Cmd, pins map[int]string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		for kind, pin := range pins {
			if pin == "" {
				continue
			}
			if err := setns(pin, kind); err != nil {
				errc <- err
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

func setns(pin string, kind int) error {
	fd, err := unix.Open(pin, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", pin, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, kind); err != nil {
		return fmt.Errorf("joining namespace %s: %w", pin, err)
	}
	return nil
}

// sealed holds one sealed copy per binary for the daemon's lifetime: every
// pause shares its pages.
var sealed struct {
	sync.Mutex
	files map[string]*os.File
}

// sealedCopy returns a memfd holding path's content, sealed against every
// change, as runc does with its own binary (CVE-2019-5736): a process that
// reaches a pause's /proc/<pid>/exe can neither write it nor reach the
// file on disk through it.
func sealedCopy(path string) (*os.File, error) {
	sealed.Lock()
	defer sealed.Unlock()
	if f := sealed.files[path]; f != nil {
		return f, nil
	}
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("cria-pause", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "cria-pause")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copying %s: %w", path, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, os.NewSyscallError("sealing the pause binary: fcntl", err)
	}
	if sealed.files == nil {
		sealed.files = map[string]*os.File{}
	}
	sealed.files[path] = f
	return f, nil
}
