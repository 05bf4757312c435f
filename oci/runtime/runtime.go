// Package runtime is cria's only importer of runc's libcontainer: it
// creates containers (in the short-lived start helper), runs exec
// processes in them (in the exec helper), and deletes and updates them
// (in the daemon). libcontainer is not a stable
// API, so it stays behind this package; its state directory is never
// cria's record of truth. Paths given to it are absolute.
package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	// Device cgroup rules, or every start fails with "cgroup manager is
	// not configured to set device rules".
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	// The C constructor that sets up namespaces in `cria init`.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/console"
	"github.com/cria-runtime/cria/oci/monitor/wire"
	"github.com/cria-runtime/cria/oci/pidfd"
)

// InitArg is the first argument with which libcontainer re-executes the
// binary as a container's init.
const InitArg = "init"

// Init is the container init's entry point; it does not return.
func Init() { libcontainer.Init() }

// Prepare does ahead of a Start the one-time work that the start would
// otherwise pay for in the middle: encoding/json building its codecs for
// the runtime spec and for libcontainer's config and state (by reflection,
// type by type: about a quarter of the start helper's CPU time), and
// libcontainer's lookup tables. The garbage it leaves is collected, so that
// the start reuses the heap pages it has already touched.
func Prepare() {
	_, _ = json.Marshal(&specs.Spec{})
	_, _ = json.Marshal(&libcontainer.State{})
	_ = specconv.KnownMountOptions()
	_ = cgroups.IsCgroup2UnifiedMode()
	goruntime.GC()
}

// Runtime manages containers whose libcontainer state lives under Root.
type Runtime struct {
	// Root is libcontainer's state directory, e.g. /run/cria/runc.
	Root string
	// Helper is the exec helper's binary (cria-start), for Exec.
	Helper string
	// Systemd selects the systemd cgroup driver.
	Systemd bool
}

// Create creates the container id from spec, with the given stdio, and
// returns its init's pid. The init waits on the container's exec fifo
// (ExecFifo) until something opens it for reading, then runs the spec's
// process, as after `runc create`. The caller (the start helper) may exit
// right after: the init is re-parented to the nearest child subreaper, the
// container's monitor. On failure nothing is left. With a console socket
// (for a spec with a terminal), libcontainer makes a pty and sends its
// master over the socket instead of using the stdio.
func (r *Runtime) Create(id string, spec *specs.Spec, stdin, stdout, stderr, console *os.File) (pid int, retErr error) {
	if !filepath.IsAbs(r.Root) || !filepath.IsAbs(spec.Root.Path) {
		return 0, errors.New("libcontainer root and rootfs must be absolute paths")
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       id,
		UseSystemdCgroup: r.Systemd,
		Spec:             spec,
	})
	if err != nil {
		return 0, fmt.Errorf("converting the spec: %w", err)
	}
	c, err := libcontainer.Create(r.Root, id, cfg)
	if err != nil {
		return 0, fmt.Errorf("creating container: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = c.Destroy()
		}
	}()
	p, err := process(spec.Process)
	if err != nil {
		return 0, err
	}
	p.Init = true
	if console != nil {
		p.ConsoleSocket = console
	} else {
		p.Stdin, p.Stdout, p.Stderr = stdin, stdout, stderr
	}
	if err := c.Start(p); err != nil {
		return 0, fmt.Errorf("creating container: %w", err)
	}
	return p.Pid()
}

// execFifo is libcontainer's name for the fifo in a container's state
// directory on which a created init waits.
const execFifo = "exec.fifo"

// ExecFifo is the fifo on which the created container id's init waits:
// opening it for reading and reading the init's word to EOF starts the
// container (see wire.CommandStart). libcontainer takes a container whose
// fifo is gone for started.
func (r *Runtime) ExecFifo(id string) string { return filepath.Join(r.Root, id, execFifo) }

// process turns the spec's process into libcontainer's, as runc does
// (utils_linux.go: newProcess); its scheduler, I/O priority and CPU
// affinity reach libcontainer through the container's config.
func process(p *specs.Process) (*libcontainer.Process, error) {
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		NoNewPrivileges: &p.NoNewPrivileges,
		AppArmorProfile: p.ApparmorProfile,
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable, Permitted: c.Permitted, Ambient: c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, r := range p.Rlimits {
		typ, ok := rlimitTypes[r.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits: unknown resource %q", r.Type)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: typ, Hard: r.Hard, Soft: r.Soft})
	}
	return lp, nil
}

// rlimitTypes are the resources setrlimit(2) knows, by their OCI names.
var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// Delete kills whatever is left of the container, removes its cgroup and
// libcontainer's state. Deleting an unknown container succeeds.
func (r *Runtime) Delete(id string) error {
	c, err := libcontainer.Load(r.Root, id)
	if errors.Is(err, libcontainer.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading container %s: %w", id, err)
	}
	st, err := c.Status()
	switch {
	case err != nil:
	case st == libcontainer.Created || st == libcontainer.Running:
		// A created init that was never started, or a container still
		// running though cria deletes only those whose monitor has exited:
		// its monitor died (killed, or failed after the start), and nothing
		// else will ever stop it.
		err = killAndDestroy(c)
	default:
		err = c.Destroy()
	}
	if err != nil {
		return fmt.Errorf("destroying container %s: %w", id, err)
	}
	return nil
}

// KillAll sends SIGKILL to every process of container id that is left in
// its cgroup, for a container that shares a PID namespace (its pod's, or
// the host's): there the death of its init kills nothing else. A container
// that is gone, or has nothing left, is no error.
func (r *Runtime) KillAll(id string) error {
	c, err := libcontainer.Load(r.Root, id)
	if errors.Is(err, libcontainer.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading container %s: %w", id, err)
	}
	if err := c.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("killing what is left of container %s: %w", id, err)
	}
	return nil
}

// killAndDestroy kills a running container's processes, waits for its
// init to die and destroys it.
func killAndDestroy(c *libcontainer.Container) error {
	if err := c.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := c.Status()
		if err != nil {
			return err
		}
		if st != libcontainer.Running && st != libcontainer.Created {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("its init survived SIGKILL for 10s")
		}
	}
	return c.Destroy()
}

// CgroupPaths returns the container's cgroup directories by subsystem.
func (r *Runtime) CgroupPaths(id string) (map[string]string, error) {
	c, err := libcontainer.Load(r.Root, id)
	if err != nil {
		return nil, err
	}
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	return st.CgroupPaths, nil
}

// Update applies new cgroup limits to a created or running container, as
// `runc update` does. Fields of r that are nil or empty leave the current value.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	c, err := libcontainer.Load(r.Root, id)
	if err != nil {
		return fmt.Errorf("loading container %s: %w", id, err)
	}
	cfg := c.Config()
	cr := cfg.Cgroups.Resources
	if cpu := res.CPU; cpu != nil {
		if cpu.Shares != nil {
			cr.CpuShares = *cpu.Shares
			cr.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
		}
		if cpu.Quota != nil {
			cr.CpuQuota = *cpu.Quota
		}
		if cpu.Period != nil {
			cr.CpuPeriod = *cpu.Period
		}
		if cpu.Cpus != "" {
			cr.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			cr.CpusetMems = cpu.Mems
		}
	}
	if m := res.Memory; m != nil {
		if m.Limit != nil {
			cr.Memory = *m.Limit
		}
		if m.Swap != nil {
			cr.MemorySwap = *m.Swap
		}
	}
	for _, h := range res.HugepageLimits {
		cr.HugetlbLimit = append(cr.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if len(res.Unified) > 0 {
		cr.Unified = res.Unified
	}
	if err := c.Set(cfg); err != nil {
		return fmt.Errorf("updating container %s: %w", id, err)
	}
	return nil
}

// The exec helper's descriptors (besides its stdio, which are the
// process's): the console socket for a process with a terminal, the
// request (JSON, read to EOF), and the pipe on which the helper says "ok
// <pid>" once the process runs or "error <why>".
const (
	execConsoleFd = 3
	execRequestFd = 4
	execSyncFd    = 5
)

// maxExecRequest bounds an exec request (a process: args, env, caps).
const maxExecRequest = 4 << 20

// execRequest is what the daemon sends the exec helper.
type execRequest struct {
	ID      string         `json:"id"`
	Root    string         `json:"root"`
	Process *specs.Process `json:"process"`
}

// ExecDrain bounds how long an exec'd process's output is still read
// after it has exited, while children it left behind hold the pipes.
const ExecDrain = 2 * time.Second

// Process is a process started in a running container by Exec, under
// an exec helper.
type Process struct {
	cmd *exec.Cmd
	// Terminal is the pty master when the process has a terminal.
	Terminal *os.File

	stdinOnce sync.Once
	stdin     *os.File // write end of the process's stdin, or nil
}

func (p *Process) closeStdin() {
	p.stdinOnce.Do(func() {
		if p.stdin != nil {
			p.stdin.Close()
		}
	})
}

// Exec starts proc (the container's own process settings with other args)
// in the running container id. Without a terminal, the process's stdio are
// stdin (may be nil), stdout and stderr. With proc.Terminal, the process
// gets a pty whose master is returned in Process.Terminal; the caller
// copies to and from it.
//
// The process is started by an exec helper (Runtime.Helper, `cria-start
// exec`), not by this process: libcontainer re-executes its caller's
// binary as the process's setns init, and the helper's binary starts in a
// fraction of the daemon's time. The helper is the process's parent and
// exits with its status.
func (r *Runtime) Exec(id string, proc *specs.Process, stdin io.Reader, stdout, stderr io.Writer) (_ *Process, retErr error) {
	req, err := json.Marshal(execRequest{ID: id, Root: r.Root, Process: proc})
	if err != nil {
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer reqR.Close()
	defer reqW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncR.Close()
	defer syncW.Close()
	cmd := exec.Command(r.Helper, "exec")
	cmd.Env = wire.HelperEnv(os.Environ())
	var parent, child *os.File
	if proc.Terminal {
		if parent, child, err = console.Pair(); err != nil {
			return nil, err
		}
		defer parent.Close()
		defer child.Close()
	} else {
		cmd.Stdout, cmd.Stderr = stdout, stderr
		// Output still held open by the process's children once it has
		// exited is read for ExecDrain at most.
		cmd.WaitDelay = ExecDrain
	}
	// stdin goes through a pipe of this side's own, closed when the process
	// exits: os/exec would wait for its copy, which blocks reading the
	// client until the client sends or closes.
	var stdinW *os.File
	if stdin != nil && !proc.Terminal {
		var stdinR *os.File
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer stdinR.Close()
		cmd.Stdin = stdinR
		defer func() {
			if retErr != nil {
				stdinW.Close()
			}
		}()
	}
	cmd.ExtraFiles = []*os.File{child, reqR, syncW} // execConsoleFd, execRequestFd, execSyncFd
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec in container %s: starting the exec helper: %w", id, err)
	}
	p := &Process{cmd: cmd, stdin: stdinW}
	if stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, stdin)
			p.closeStdin()
		}()
	}
	defer func() {
		if retErr != nil {
			_ = p.Kill()
			_, _ = p.Wait()
		}
	}()
	reqR.Close()
	syncW.Close()
	go func() {
		_, _ = reqW.Write(req)
		reqW.Close()
	}()
	line, _ := bufio.NewReader(io.LimitReader(syncR, 64<<10)).ReadString('\n')
	line = strings.TrimSpace(line)
	if why, ok := strings.CutPrefix(line, "error "); ok {
		return nil, fmt.Errorf("exec in container %s: %s", id, why)
	}
	if !strings.HasPrefix(line, "ok ") {
		return nil, fmt.Errorf("exec in container %s: the exec helper exited without a word", id)
	}
	if proc.Terminal {
		if p.Terminal, err = console.Receive(parent); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Wait waits for the process and for its output, ExecDrain at most after
// it exited, and returns its exit code (128+signal if a signal ended it).
// Its stdin is closed once it has exited.
func (p *Process) Wait() (int, error) {
	err := pidfd.WaitCmd(p.cmd)
	p.closeStdin()
	if p.cmd.ProcessState == nil {
		return -1, err
	}
	return exitStatus(p.cmd.ProcessState), nil
}

// exitStatus is a process's exit code, or 128+signal if a signal ended it,
// as a shell reports it.
func exitStatus(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// Kill kills the process and its children: its helper, told so by
// SIGTERM, sends SIGKILL to the process's process group (a session of its
// own, as libcontainer makes every process it starts) and exits with the
// process's status.
func (p *Process) Kill() error { return p.cmd.Process.Signal(syscall.SIGTERM) }

// ExecHelper is the exec helper (`cria-start exec`, see Exec): it starts
// the requested process in its container with this process's stdio, or
// its console socket, then waits for it and returns the exit code to
// exit with. A SIGTERM kills the process.
func ExecHelper() int {
	syncPipe := os.NewFile(execSyncFd, "sync")
	fail := func(err error) int {
		_, _ = syncPipe.WriteString("error " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
		return 125
	}
	var req execRequest
	if err := json.NewDecoder(io.LimitReader(os.NewFile(execRequestFd, "request"), maxExecRequest)).Decode(&req); err != nil {
		return fail(fmt.Errorf("reading the request: %w", err))
	}
	if req.Process == nil || !filepath.IsAbs(req.Root) || req.ID == "" {
		return fail(errors.New("the request needs an id, an absolute root and a process"))
	}
	c, err := libcontainer.Load(req.Root, req.ID)
	if err != nil {
		return fail(fmt.Errorf("loading container %s: %w", req.ID, err))
	}
	p, err := process(req.Process)
	if err != nil {
		return fail(err)
	}
	p.Init = false
	if req.Process.Terminal {
		p.ConsoleSocket = os.NewFile(execConsoleFd, "console-socket")
	} else {
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if err := c.Run(p); err != nil {
		return fail(err)
	}
	pid, _ := p.Pid()
	_, _ = syncPipe.WriteString("ok " + strconv.Itoa(pid) + "\n")
	syncPipe.Close()
	// The process holds its own copies of the stdio from here on.
	os.Stdin.Close()
	os.Stdout.Close()
	os.Stderr.Close()
	go func() {
		for range sigs {
			// Its children too: a timed-out probe leaves nothing behind.
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = p.Signal(syscall.SIGKILL)
		}
	}()
	st, _ := p.Wait()
	if st == nil {
		return 255 // not waitable: its status is unknown
	}
	return exitStatus(st)
}

// CheckpointSupported returns nil if CRIU can checkpoint containers on this
// host, or an error saying what is missing.
func CheckpointSupported() error {
	path, err := exec.LookPath("criu")
	if err != nil {
		return errors.New("criu is not installed (Debian package criu)")
	}
	out, err := exec.Command(path, "check").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return fmt.Errorf("criu cannot checkpoint on this host (`criu check`: %s)", lines[len(lines)-1])
	}
	return nil
}

// Checkpoint dumps the running container id with CRIU into dir/checkpoint,
// leaving it running. CRIU's logs go to dir/work.
func (r *Runtime) Checkpoint(id, dir string) error {
	c, err := libcontainer.Load(r.Root, id)
	if err != nil {
		return fmt.Errorf("loading container %s: %w", id, err)
	}
	images, work := filepath.Join(dir, "checkpoint"), filepath.Join(dir, "work")
	for _, d := range []string{images, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := c.Checkpoint(&libcontainer.CriuOpts{
		ImagesDirectory: images, WorkDirectory: work,
		LeaveRunning: true, TcpEstablished: true, FileLocks: true,
	}); err != nil {
		return fmt.Errorf("checkpointing container %s: %w", id, err)
	}
	return nil
}
