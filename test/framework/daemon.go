package framework

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
)

// Daemon is a cria daemon started for one test, in a directory of its own
// (root, run root, socket, config file and log). It is stopped by PID, its
// mounts are released and its directory removed in t.Cleanup; its log is
// printed only if the test failed.
type Daemon struct {
	t testing.TB
	// Dir holds everything the daemon owns.
	Dir string
	// Config is what the daemon was started with; ConfigPath is its file.
	Config     config.Config
	ConfigPath string
	// Runtime and Images are CRI clients on the daemon's socket. They stay
	// valid across Kill and Start.
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	// Network is the CNI bridge network, if WithBridgeNetwork was given.
	Network *BridgeNetwork

	conn    *grpc.ClientConn
	logPath string
	env     []string // added to the test's environment

	mu   sync.Mutex // protects proc
	proc *process
}

type process struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has been reaped
	result error         // cmd.Wait's error; read after done is closed
}

// DaemonOption prepares a daemon before its first start.
type DaemonOption func(*Daemon)

// WithConfig lets a test edit the daemon's configuration.
func WithConfig(edit func(*config.Config)) DaemonOption {
	return func(d *Daemon) { edit(&d.Config) }
}

// WithEnv adds variables (NAME=value) to the daemon's environment.
func WithEnv(kv ...string) DaemonOption {
	return func(d *Daemon) { d.env = append(d.env, kv...) }
}

// WithRegistriesConf gives the daemon a containers-registries.conf(5) file
// with this content (see Registry.MirrorConf).
func WithRegistriesConf(content string) DaemonOption {
	return func(d *Daemon) {
		if err := os.WriteFile(d.Config.Image.RegistriesConf, []byte(content), 0o600); err != nil {
			d.t.Fatal(err)
		}
	}
}

// StartDaemon starts cria with a fresh root and socket and waits until it
// answers Version.
func StartDaemon(t testing.TB, opts ...DaemonOption) *Daemon {
	t.Helper()
	d := NewDaemon(t, opts...)
	d.Start()
	return d
}

// NewDaemon prepares a daemon's directory, config file and clients without
// starting it.
func NewDaemon(t testing.TB, opts ...DaemonOption) *Daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "cria-test-")
	if err != nil {
		t.Fatal(err)
	}
	// As /var/lib and /run are: a user-namespaced pod's root, who is not
	// the host's, reaches the pod's files below by name.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Root = filepath.Join(dir, "root")
	cfg.RunRoot = filepath.Join(dir, "run")
	cfg.Socket = filepath.Join(dir, "run", "cria.sock")
	cfg.Log.Level = "debug"
	// Hermetic: no host registries.conf or policy.json applies unless a
	// test writes one.
	cfg.Image.RegistriesConf = filepath.Join(dir, "registries.conf")
	cfg.Image.SignaturePolicy = filepath.Join(dir, "policy.json")
	// No pod network until a test writes a CNI config here.
	cfg.Network.CNIConfDir = filepath.Join(dir, "net.d")
	cfg.CheckpointDir = filepath.Join(dir, "checkpoints")
	// NRI plugins connect here, never to the host's socket.
	cfg.NRI.SocketPath = filepath.Join(dir, "nri.sock")
	cfg.NRI.PluginPath = filepath.Join(dir, "nri", "plugins")
	cfg.NRI.PluginConfigPath = filepath.Join(dir, "nri", "conf.d")
	// Monitors go to a cgroup of this daemon's, removed with it.
	cfg.MonitorCgroup = "criatest-monitors-" + strings.TrimPrefix(filepath.Base(dir), "cria-test-")
	d := &Daemon{t: t, Dir: dir, Config: cfg, ConfigPath: filepath.Join(dir, "cria.toml"), logPath: filepath.Join(dir, "daemon.log")}
	for _, o := range opts {
		o(d)
	}
	d.WriteConfig()
	// A short reconnect backoff: the client is made before the daemon
	// listens, and again outlives Kill/Start cycles.
	conn, err := grpc.NewClient("unix://"+cfg.Socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// As the kubelet's CRI client allows.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: 5 * time.Second,
		}))
	if err != nil {
		t.Fatal(err)
	}
	d.conn = conn
	d.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	d.Images = runtimeapi.NewImageServiceClient(conn)
	t.Cleanup(d.cleanup)
	return d
}

// WriteConfig writes d.Config to d.ConfigPath; the next Start uses it.
func (d *Daemon) WriteConfig() {
	d.t.Helper()
	out, err := d.Config.Marshal()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(d.ConfigPath, out, 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// Endpoint is the daemon's CRI endpoint as kubelet and crictl spell it.
func (d *Daemon) Endpoint() string { return "unix://" + d.Config.Socket }

// Start starts the daemon process and waits until it answers Version. It
// fails the test, with the daemon's log, if the daemon exits or does not
// answer within 30 seconds.
func (d *Daemon) Start() {
	d.t.Helper()
	p, err := d.startProcess()
	if err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return
		}
		select {
		case <-p.done:
			d.t.Fatalf("cria exited during start (%v); log:\n%s", p.result, d.Log())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("cria did not answer Version within 30s (last error: %v); log:\n%s", err, d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *Daemon) startProcess() (*process, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc != nil {
		select {
		case <-d.proc.done:
		default:
			return nil, fmt.Errorf("daemon is already running (pid %d)", d.proc.cmd.Process.Pid)
		}
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "==== cria started by the test at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(Binary(d.t), "--config", d.ConfigPath)
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting cria: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.result = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	d.proc = p
	return p, nil
}

// PID is the running daemon's process id, or 0.
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return 0
	}
	return d.proc.cmd.Process.Pid
}

// Kill sends SIGKILL to the daemon, as a crash would, and waits for it.
func (d *Daemon) Kill() {
	d.t.Helper()
	if _, err := d.signal(syscall.SIGKILL, 10*time.Second); err != nil {
		d.t.Fatal(err)
	}
}

// Stop sends SIGTERM and waits up to 30 seconds; it returns the exit code.
func (d *Daemon) Stop() int {
	d.t.Helper()
	code, err := d.signal(syscall.SIGTERM, 30*time.Second)
	if err != nil {
		d.t.Fatal(err)
	}
	return code
}

// signal sends sig to the daemon's process, by PID, and waits for it to end.
func (d *Daemon) signal(sig syscall.Signal, wait time.Duration) (int, error) {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	if p == nil {
		return 0, errors.New("daemon was never started")
	}
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return 0, fmt.Errorf("signalling cria: %w", err)
		}
		select {
		case <-p.done:
		case <-time.After(wait):
			_ = p.cmd.Process.Kill()
			<-p.done
			return 0, fmt.Errorf("cria (pid %d) did not exit within %s of %v; killed it", p.cmd.Process.Pid, wait, sig)
		}
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Log returns everything the daemon has written so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.logPath)
	return string(b)
}

// WaitForLog waits up to timeout for a log line containing substr.
func (d *Daemon) WaitForLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(d.Log(), substr) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (d *Daemon) cleanup() {
	if d.PID() != 0 {
		if _, err := d.signal(syscall.SIGTERM, 20*time.Second); err != nil {
			d.t.Errorf("stopping daemon: %v", err)
		}
	}
	d.conn.Close()
	if d.t.Failed() {
		d.t.Logf("cria log (%s):\n%s", d.logPath, d.Log())
	}
	if err := UnmountAll(d.Dir); err != nil {
		d.t.Errorf("releasing the daemon's mounts: %v", err)
	}
	if err := removeCgroup(d.Config.MonitorCgroup, 10*time.Second); err != nil {
		d.t.Errorf("removing the daemon's monitor cgroup: %v", err)
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		d.t.Errorf("removing the daemon's directory: %v", err)
	}
}

// removeCgroup removes the cgroup name from every hierarchy, waiting up to
// timeout for its processes to leave (a standby monitor exits once its
// daemon has gone).
func removeCgroup(name string, timeout time.Duration) error {
	if name == "" {
		return nil
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if _, err := os.Stat("/sys/fs/cgroup/" + name); err == nil {
		dirs = append(dirs, "/sys/fs/cgroup/"+name)
	}
	deadline := time.Now().Add(timeout)
	for _, d := range dirs {
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("rmdir %s: %w", d, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// UnmountAll unmounts every mount point at or below dir, deepest first.
func UnmountAll(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, mp := range points {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountinfo undoes the octal escapes (\040 for space, ...) of
// /proc/self/mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// Binary returns the path of the cria binary under test: $CRIA_BINARY (as
// `make test` sets it), or else one built once per test binary with
// `make build`, so that build flags and tags live only in the Makefile.
func Binary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		if p := os.Getenv("CRIA_BINARY"); p != "" {
			binaryPath, binaryErr = filepath.Abs(p)
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			binaryErr = err
			return
		}
		out, err := exec.Command("make", "-C", root, "build").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("make build: %v\n%s", err, out)
			return
		}
		binaryPath = filepath.Join(root, "bin", "cria")
	})
	if binaryErr != nil {
		t.Fatalf("cria binary: %v", binaryErr)
	}
	return binaryPath
}

// ModuleRoot returns the directory of cria's go.mod, found upwards from the
// working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// RunCria runs the cria binary with args to completion (at most 30 s) and
// returns its standard output, standard error and exit code.
func RunCria(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running cria %v: %v", args, err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// RemoveAllPods stops and removes every pod the daemon holds, with their
// containers: what a client such as critest or a kubelet left behind, so
// that nothing outlives the test.
func (d *Daemon) RemoveAllPods(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Errorf("listing pods left behind: %v", err)
		return
	}
	for _, p := range pods.Items {
		if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			t.Errorf("stopping pod %s left behind: %v", p.Id, err)
		}
		if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			t.Errorf("removing pod %s left behind: %v", p.Id, err)
		}
	}
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WatchStopped subscribes to the daemon's container events and calls fn,
// from one goroutine, with the id of each container whose STOPPED event
// arrives and the time it arrived, until ctx ends or the stream breaks.
func (d *Daemon) WatchStopped(ctx context.Context, fn func(id string, at time.Time)) {
	d.t.Helper()
	events, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		d.t.Fatal(err)
	}
	go func() {
		for {
			ev, err := events.Recv()
			if err != nil {
				return
			}
			if ev.ContainerEventType == runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT {
				fn(ev.ContainerId, time.Now())
			}
		}
	}()
}
