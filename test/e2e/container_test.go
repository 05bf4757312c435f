package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/test/framework"
)

// containerEnv is a daemon with a bridge network, the busybox test image
// pulled as registry.k8s.io/e2e-test-images/busybox:1.29-2, and one ready
// pod whose logs go to a directory of the test's.
type containerEnv struct {
	d      *framework.Daemon
	reg    *framework.Registry
	pod    string
	podCfg *runtimeapi.PodSandboxConfig
	logDir string
}

const busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

func newContainerEnv(t *testing.T, edit ...func(*runtimeapi.PodSandboxConfig)) *containerEnv {
	t.Helper()
	return newContainerEnvWith(t, nil, edit...)
}

// newContainerEnvWith is newContainerEnv with more options for the daemon.
func newContainerEnvWith(t *testing.T, opts []framework.DaemonOption, edit ...func(*runtimeapi.PodSandboxConfig)) *containerEnv {
	t.Helper()
	reg := framework.StartRegistry(t)
	reg.Push(t, "e2e-test-images/busybox:1.29-2", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"sh"}}))
	d := framework.StartDaemon(t, append([]framework.DaemonOption{framework.WithBridgeNetwork(), framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io"))}, opts...)...)
	mustPull(t, d, busybox)
	e := &containerEnv{d: d, reg: reg, logDir: filepath.Join(d.Dir, "pod-logs")}
	e.podCfg = podConfig(append([]func(*runtimeapi.PodSandboxConfig){func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = e.logDir }}, edit...)...)
	e.pod = runPod(t, d, e.podCfg)
	t.Cleanup(func() {
		// Removing the pod removes its containers; then nothing may be left.
		if _, err := d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: e.pod}); err != nil {
			t.Errorf("StopPodSandbox: %v", err)
		}
		if _, err := d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: e.pod}); err != nil {
			t.Errorf("RemovePodSandbox: %v", err)
		}
		if list, _ := d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{}); len(list.GetContainers()) != 0 {
			t.Errorf("containers left after the pod was removed: %v", list.GetContainers())
		}
		assertNothingLeft(t, d)
	})
	return e
}

var ctrCounter int

func (e *containerEnv) create(t *testing.T, edit func(*runtimeapi.ContainerConfig)) string {
	t.Helper()
	ctrCounter++
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c%d", ctrCounter)},
		Image:    &runtimeapi.ImageSpec{Image: busybox},
		LogPath:  fmt.Sprintf("c%d/0.log", ctrCounter),
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
	if edit != nil {
		edit(cfg)
	}
	resp, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, Config: cfg, SandboxConfig: e.podCfg})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	return resp.ContainerId
}

func (e *containerEnv) start(t *testing.T, id string) {
	t.Helper()
	if _, err := e.d.Runtime.StartContainer(ctxT(t), &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
}

// startSleeper starts a container that sleeps, and returns its id, its
// init's pid and its monitor's pid, as verbose ContainerStatus tells them.
func (e *containerEnv) startSleeper(t *testing.T) (id string, pid, monitorPid int) {
	t.Helper()
	id = e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
	e.start(t, id)
	pid, monitorPid = e.pids(t, id)
	return id, pid, monitorPid
}

// cgroupsOf lists the cgroup directories of the container id (of every
// cria container, for ""), on cgroup v1 or v2, under a parent or not.
func cgroupsOf(id string) []string {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/*cria-", "/sys/fs/cgroup/*/*cria-", "/sys/fs/cgroup/*/*/*cria-"} {
		found, _ := filepath.Glob(pattern + id + "*")
		dirs = append(dirs, found...)
	}
	return dirs
}

// pids returns a container's init's pid and its monitor's pid, as verbose
// ContainerStatus tells them.
func (e *containerEnv) pids(t *testing.T, id string) (pid, monitorPid int) {
	t.Helper()
	resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Pid        int `json:"pid"`
		MonitorPid int `json:"monitorPid"`
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil || info.Pid == 0 || info.MonitorPid == 0 {
		t.Fatalf("verbose info %s: %v; want pid and monitorPid", resp.Info["info"], err)
	}
	return info.Pid, info.MonitorPid
}

func (e *containerEnv) status(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.Status
}

// waitExited waits for the container to exit and returns its status.
func (e *containerEnv) waitExited(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := e.status(t, id)
		if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still %v after 30s", id, st.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLogged waits until the container's log holds text: a container
// that sets a trap says so once the trap is set.
func (e *containerEnv) waitLogged(t *testing.T, id, text string) {
	t.Helper()
	logPath := e.status(t, id).LogPath
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(logPath); strings.Contains(string(b), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never logged %q", id, text)
		}
	}
}

var criLogLine = regexp.MustCompile(`^(\S+) (stdout|stderr) (P|F) (.*)$`)

// logRecords reads a CRI log file as "stream tag content" records,
// checking each timestamp.
func logRecords(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading log: %v", err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		m := criLogLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q is not in the CRI format", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Errorf("log line %q: bad time: %v", l, err)
		}
		out = append(out, m[2]+" "+m[3]+" "+m[4])
	}
	return out
}

// TestOutputEndingWithoutNewline: output whose last line has no newline
// ends the log with a partial record, so that a reader gives back exactly
// what was written; the kubelet's termination message taken from the log
// of `echo -n DONE; false` is "DONE".
func TestOutputEndingWithoutNewline(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "echo first; echo -n DONE; exit 1"}
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	if recs := logRecords(t, st.LogPath); strings.Join(recs, "|") != "stdout F first|stdout P DONE" {
		t.Errorf("log records = %q, want a full record and a partial one", recs)
	}
	if out := e.d.Crictl(t, "logs", id); out != "first\nDONE" {
		t.Errorf("crictl logs = %q, want %q", out, "first\nDONE")
	}
}

// TestContainerReportsTheImageTheUserNamed: the kubelet creates a
// container from the image id it resolved, with the pod spec's name beside
// it; status and list report that name (the pod's status shows it), and the
// id as the reference.
func TestContainerReportsTheImageTheUserNamed(t *testing.T) {
	e := newContainerEnv(t)
	img, err := e.d.Images.ImageStatus(ctxT(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: busybox}})
	if err != nil || img.Image == nil {
		t.Fatalf("ImageStatus(%s): %v %v", busybox, img, err)
	}
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Image = &runtimeapi.ImageSpec{Image: img.Image.Id, UserSpecifiedImage: busybox}
	})
	if st := e.status(t, id); st.Image.GetImage() != busybox || st.ImageRef != img.Image.Id {
		t.Errorf("status: image %q ref %q, want %q and %q", st.Image.GetImage(), st.ImageRef, busybox, img.Image.Id)
	}
	list, err := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: id}})
	if err != nil || len(list.Containers) != 1 || list.Containers[0].Image.GetImage() != busybox {
		t.Errorf("ListContainers: %v %v, want the image %q", list, err, busybox)
	}
}

func TestContainerRunsAndExitsWithItsCode(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}
	})
	if st := e.status(t, id); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("state after create = %v", st.State)
	}
	e.start(t, id)
	st := e.waitExited(t, id)
	if st.ExitCode != 3 || st.Reason != "Error" || st.FinishedAt < st.StartedAt || st.StartedAt < st.CreatedAt {
		t.Errorf("status = exit %d reason %q times %d/%d/%d", st.ExitCode, st.Reason, st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	if st.ImageRef == "" || st.Image.Image != busybox {
		t.Errorf("image %v ref %q", st.Image, st.ImageRef)
	}
	recs := logRecords(t, st.LogPath)
	if len(recs) != 2 || !contains(strings.Join(recs, "|"), "stdout F hello") || !contains(strings.Join(recs, "|"), "stderr F oops") {
		t.Errorf("log records = %q", recs)
	}
	if !strings.HasPrefix(st.LogPath, e.logDir+"/") {
		t.Errorf("log path %q outside the pod's log directory", st.LogPath)
	}
}

// CreateContainer makes the whole container, as `runc create` does: its
// init waits, running nothing of the container's, until StartContainer.
// A daemon restart keeps it waiting and startable. Stopping a created
// container ends its init.
func TestCreatedContainerWaitsForStart(t *testing.T) {
	e := newContainerEnv(t)
	waiting := func(id string) int {
		t.Helper()
		if st := e.status(t, id); st.State != runtimeapi.ContainerState_CONTAINER_CREATED || st.StartedAt != 0 {
			t.Errorf("state %v started at %d, want CREATED, not started", st.State, st.StartedAt)
		}
		pid, _ := e.pids(t, id)
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !strings.HasSuffix(string(cmd), "\x00init\x00") {
			t.Errorf("created container's process %d runs %q, want libcontainer's waiting init", pid, cmd)
		}
		if len(cgroupsOf(id)) == 0 {
			t.Errorf("created container has no cgroup")
		}
		return pid
	}

	id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sh", "-c", "echo started; exit 7"} })
	waiting(id)
	e.d.Kill()
	e.d.Start()
	waiting(id)
	if recs := logRecords(t, e.status(t, id).LogPath); len(recs) != 0 {
		t.Errorf("the command ran before the start: %q", recs)
	}
	e.start(t, id)
	st := e.waitExited(t, id)
	if recs := logRecords(t, st.LogPath); st.ExitCode != 7 || len(recs) != 1 || recs[0] != "stdout F started" {
		t.Errorf("after the start: exit %d, log %q; want 7 and one record", st.ExitCode, recs)
	}
	if _, err := e.d.Runtime.StartContainer(ctxT(t), &runtimeapi.StartContainerRequest{ContainerId: id}); err == nil || !contains(err.Error(), "FailedPrecondition") {
		t.Errorf("second start: %v, want FailedPrecondition", err)
	}

	id = e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
	pid := waiting(id)
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, id); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || !contains(st.Message, "before it was started") {
		t.Errorf("stopped before its start: %v %q %q, want EXITED, saying it was never started", st.State, st.Reason, st.Message)
	}
	if processExists(pid) {
		t.Errorf("the init %d of a stopped created container still runs", pid)
	}
	if cg := cgroupsOf(id); len(cg) != 0 {
		t.Errorf("a stopped created container keeps its cgroups %v", cg)
	}
	if _, err := e.d.Runtime.StartContainer(ctxT(t), &runtimeapi.StartContainerRequest{ContainerId: id}); err == nil || !contains(err.Error(), "FailedPrecondition") {
		t.Errorf("start after stop: %v, want FailedPrecondition", err)
	}
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Errorf("RemoveContainer: %v", err)
	}
}

// A start that the daemon's crash cut short (the monitor started the
// container, the daemon never recorded it) is adopted: on restart, and by
// a retried StartContainer.
func TestStartCutShortIsAdopted(t *testing.T) {
	e := newContainerEnv(t)
	startByMonitor := func(id string) {
		t.Helper()
		if err := monitor.Start(filepath.Join(e.d.Config.RunRoot, "containers", id)); err != nil {
			t.Fatalf("starting %s through its monitor: %v", id, err)
		}
	}
	running := func(what, id string) {
		t.Helper()
		st := e.status(t, id)
		pid, _ := e.pids(t, id)
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING || st.StartedAt == 0 || !strings.HasPrefix(string(cmd), "sleep\x00") {
			t.Errorf("%s: %v started at %d, init runs %q; want RUNNING, sleep", what, st.State, st.StartedAt, cmd)
		}
	}
	sleeper := func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} }

	// The daemon dies after the monitor's start, before its record.
	id := e.create(t, sleeper)
	e.d.Kill()
	startByMonitor(id)
	e.d.Start()
	running("adopted on restart", id)

	// The kubelet retries a StartContainer whose answer it never got.
	id = e.create(t, sleeper)
	startByMonitor(id)
	e.start(t, id)
	running("a retried start", id)
}

func TestContainerSeesItsConfig(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", `echo "foo=$FOO"; pwd; id -u; id -g; id -G; hostname; cat /etc/resolv.conf | grep -c nameserver`}
		c.Envs = []*runtimeapi.KeyValue{{Key: "FOO", Value: []byte("bar")}}
		c.WorkingDir = "/tmp"
		c.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: 1234}
		c.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: 5678}
		c.Linux.SecurityContext.SupplementalGroups = []int64{4242}
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	got := strings.Join(logRecords(t, st.LogPath), "|")
	want := "stdout F foo=bar|stdout F /tmp|stdout F 1234|stdout F 5678|stdout F 5678 4242|stdout F " + e.podCfg.Hostname
	if !strings.HasPrefix(got, want) || st.ExitCode != 0 || st.Reason != "Completed" {
		t.Errorf("output %q (exit %d %s), want it to start with %q", got, st.ExitCode, st.Reason, want)
	}
}

func TestReadonlyRootfs(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "touch /x && echo wrote; touch /tmp/y 2>/dev/null || echo tmp-readonly-too; exit 0"}
		c.Linux.SecurityContext.ReadonlyRootfs = true
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	got := strings.Join(logRecords(t, st.LogPath), "|")
	if contains(got, "wrote") || !contains(got, "Read-only file system") {
		t.Errorf("readonly rootfs: output %q", got)
	}
}

func TestStopIgnoringSIGTERMIsKilledAfterTimeout(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done"}
	})
	e.start(t, id)
	e.waitLogged(t, id, "ready") // a SIGTERM before the trap would end it
	start := time.Now()
	stopped := make(chan error, 1)
	go func() {
		_, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 4})
		stopped <- err
	}()
	// While the stop waits out its timeout, reads answer at once (the
	// kubelet relists every second) and still see the container running.
	time.Sleep(500 * time.Millisecond) // the stop has begun and holds the container
	list, err := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: id}})
	st := e.status(t, id)
	select {
	case err := <-stopped:
		t.Fatalf("the stop ended (%v) before the reads could be checked during it", err)
	default:
	}
	if err != nil || len(list.Containers) != 1 || list.Containers[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING ||
		st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("during the stop: ListContainers = %v, %v; status %v", list.GetContainers(), err, st.State)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	st = e.status(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 137 {
		t.Errorf("after stop: %v exit %d, want EXITED 137 (SIGKILL)", st.State, st.ExitCode)
	}
	if el < 4*time.Second {
		t.Errorf("stop took %v: it did not wait for the 4s timeout", el)
	}
	// A second stop, and a stop of an unknown container, succeed.
	for _, cid := range []string{id, strings.Repeat("e", 64)} {
		if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: cid, Timeout: 1}); err != nil {
			t.Errorf("StopContainer(%s): %v", cid[:8], err)
		}
	}
}

func TestStopUsesTheStopSignal(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "trap 'echo got-usr1; exit 7' USR1; echo ready; while true; do sleep 0.1; done"}
		c.StopSignal = runtimeapi.Signal_SIGNAL_SIGUSR1
	})
	e.start(t, id)
	e.waitLogged(t, id, "ready")
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	st := e.status(t, id)
	if st.ExitCode != 7 || !contains(strings.Join(logRecords(t, st.LogPath), "|"), "got-usr1") {
		t.Errorf("exit %d, logs %q: the stop signal was not SIGUSR1", st.ExitCode, logRecords(t, st.LogPath))
	}
}

func TestReopenContainerLogAfterRename(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.05; done"}
	})
	e.start(t, id)
	logPath := e.status(t, id).LogPath
	time.Sleep(300 * time.Millisecond)
	rotated := logPath + ".20261128-000000"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Runtime.ReopenContainerLog(ctxT(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	before, after := logRecords(t, rotated), logRecords(t, logPath)
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("rotated %d records, new %d: want both non-empty", len(before), len(after))
	}
	// No line lost or repeated across the rotation.
	all := append(before, after...)
	for i, r := range all {
		if want := fmt.Sprintf("stdout F line-%d", i+1); r != want {
			t.Fatalf("record %d = %q, want %q (lines lost or repeated across the reopen)", i, r, want)
		}
	}
	// A stopped container's log cannot be reopened.
	if _, err := e.d.Runtime.ReopenContainerLog(ctxT(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err == nil {
		t.Error("ReopenContainerLog of a stopped container succeeded")
	}
}

func TestOOMKilled(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		// tail keeps everything after the last newline: /dev/zero has none.
		c.Command = []string{"sh", "-c", "tail /dev/zero"}
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 16 << 20}
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	if st.Reason != "OOMKilled" || st.ExitCode != 137 {
		t.Errorf("exit %d reason %q, want 137 OOMKilled", st.ExitCode, st.Reason)
	}
}

func TestContainersSurviveDaemonKill(t *testing.T) {
	e := newContainerEnv(t)
	long := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.05; done"}
	})
	short := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "sleep 1; exit 42"}
	})
	e.start(t, long)
	e.start(t, short)
	resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: long, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	pidBefore := regexp.MustCompile(`"pid":(\d+)`).FindStringSubmatch(resp.Info["info"])[1]
	logPath := resp.Status.LogPath

	e.d.Kill()
	time.Sleep(1500 * time.Millisecond) // short exits while the daemon is down
	n := len(logRecords(t, logPath))
	time.Sleep(300 * time.Millisecond)
	if m := len(logRecords(t, logPath)); m <= n {
		t.Errorf("the running container stopped logging while the daemon was down (%d → %d records)", n, m)
	}
	e.d.Start()

	resp, err = e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: long, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING || !contains(resp.Info["info"], `"pid":`+pidBefore+`,`) {
		t.Errorf("long-running container after restart: %v, info %s; want RUNNING with pid %s", resp.Status.State, resp.Info["info"], pidBefore)
	}
	if st := e.status(t, short); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 42 {
		t.Errorf("container that exited while the daemon was down: %v exit %d, want EXITED 42", st.State, st.ExitCode)
	}
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: long, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
}

// A container whose monitor is killed (by the OOM killer, say) shows
// EXITED with reason Unknown, and RemoveContainer still removes it: its
// processes are killed, its cgroups and mounts released.
func TestRemoveContainerWhoseMonitorDied(t *testing.T) {
	e := newContainerEnv(t)
	id, pid, mon := e.startSleeper(t)
	if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := e.waitExited(t, id); st.Reason != "Unknown" {
		t.Errorf("container whose monitor died: reason %q, want Unknown", st.Reason)
	}
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("RemoveContainer of a container whose monitor died: %v", err)
	}
	// Gone, or a zombie waiting for whichever ancestor inherited it.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !contains(string(b), ") Z ") {
		t.Errorf("the container's init %d still runs after RemoveContainer: %s", pid, b)
	}
	if cg := cgroupsOf(id); len(cg) != 0 {
		t.Errorf("cgroups left: %v", cg)
	}
}

func TestContainerErrorsAndCleanup(t *testing.T) {
	e := newContainerEnv(t)
	create := func(edit func(*runtimeapi.ContainerConfig)) error {
		cfg := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "bad"}, Image: &runtimeapi.ImageSpec{Image: busybox}, Command: []string{"true"}}
		edit(cfg)
		_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, Config: cfg, SandboxConfig: e.podCfg})
		return err
	}
	for _, tc := range []struct {
		name string
		edit func(*runtimeapi.ContainerConfig)
		code string
		want string
	}{
		{"log path escapes", func(c *runtimeapi.ContainerConfig) { c.LogPath = "../../etc/evil.log" }, "InvalidArgument", "must be a file inside the pod's log directory"},
		{"absolute log path", func(c *runtimeapi.ContainerConfig) { c.LogPath = "/etc/evil.log" }, "InvalidArgument", "config.log_path"},
		{"image not pulled", func(c *runtimeapi.ContainerConfig) { c.Image.Image = "registry.k8s.io/never/pulled:1" }, "NotFound", "not pulled"},
		{"no name", func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "" }, "InvalidArgument", "config.metadata.name"},
		{"unknown user", func(c *runtimeapi.ContainerConfig) {
			c.Linux = &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "ghost"}}
		}, "InvalidArgument", "ghost"},
	} {
		err := create(tc.edit)
		if err == nil || !contains(err.Error(), tc.code) || !contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %s mentioning %q", tc.name, err, tc.code, tc.want)
		}
	}
	list, _ := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{})
	if len(list.GetContainers()) != 0 {
		t.Errorf("failed creates left containers: %v", list.GetContainers())
	}
	// A create that fails in the container's making says why and leaves
	// nothing: no record, no cgroup, no libcontainer state, no monitor.
	runcRoot := filepath.Join(e.d.Config.RunRoot, "runc")
	cgBefore := len(cgroupsOf(""))
	if err := os.MkdirAll(filepath.Join(e.logDir, "a-directory.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*runtimeapi.ContainerConfig)
		want string
	}{
		{"command not found", func(c *runtimeapi.ContainerConfig) { c.Command = []string{"/no/such/command"} }, "/no/such/command"},
		{"log path is a directory", func(c *runtimeapi.ContainerConfig) { c.LogPath = "a-directory.log" }, "a-directory.log"},
	} {
		err := create(tc.edit)
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("create with %s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	if list, _ := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{}); len(list.GetContainers()) != 0 {
		t.Errorf("failed creates left containers: %v", list.GetContainers())
	}
	if left, _ := os.ReadDir(runcRoot); len(left) != 0 {
		t.Errorf("failed creates left libcontainer state: %v", left)
	}
	if cg := cgroupsOf(""); len(cg) != cgBefore {
		t.Errorf("failed creates left cgroups: %v", cg)
	}

	// A start that fails says why, shows the container EXITED with reason
	// StartError, and leaves no process (so no cgroup) behind.
	failedStart := func(what, id, want string) {
		t.Helper()
		_, err := e.d.Runtime.StartContainer(ctxT(t), &runtimeapi.StartContainerRequest{ContainerId: id})
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("StartContainer %s: %v, want an error naming %s", what, err, want)
		}
		if st := e.status(t, id); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Reason != "StartError" {
			t.Errorf("after a start %s: %v %q, want EXITED StartError", what, st.State, st.Reason)
		}
		if cg := cgroupsOf(id); len(cg) != 0 {
			t.Errorf("a start %s left the container running: cgroups %v", what, cg)
		}
		if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("RemoveContainer after a start %s: %v", what, err)
		}
	}
	// The created init, waiting to be started, was killed.
	id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
	pid, _ := e.pids(t, id)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failedStart("whose init was killed", id, "exited")
	// The monitor is gone: the init it leaves must not wait on for ever.
	id = e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
	pid, monitorPid := e.pids(t, id)
	if err := syscall.Kill(monitorPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failedStart("whose monitor was killed", id, "monitor")
	if processExists(pid) {
		t.Errorf("the init %d of a container whose start failed still runs", pid)
	}

	// A running container removed: no monitor, mount or cgroup is left.
	id, _, monPid := e.startSleeper(t)
	mon := strconv.Itoa(monPid)
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat("/proc/" + mon); err == nil {
		if b, _ := os.ReadFile("/proc/" + mon + "/cmdline"); contains(string(b), "cria-monitor") {
			t.Errorf("monitor %s still runs after removal", mon)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if contains(string(mi), "/overlay/") && contains(string(mi), e.d.Dir) {
		t.Errorf("rootfs still mounted after removal")
	}
	if cg := cgroupsOf(id); len(cg) != 0 {
		t.Errorf("cgroups left: %v", cg)
	}
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Errorf("second RemoveContainer: %v", err)
	}
}

func TestCrictlContainers(t *testing.T) {
	e := newContainerEnv(t)
	ctr := filepath.Join(e.d.Dir, "ctr.json")
	os.WriteFile(ctr, []byte(`{"metadata": {"name": "crictl-ctr"}, "image": {"image": "`+busybox+`"}, "command": ["sh", "-c", "echo from-crictl; sleep 3600"], "log_path": "crictl-ctr.log", "linux": {}}`), 0o644)
	pod := filepath.Join(e.d.Dir, "pod.json")
	b, _ := json.Marshal(e.podCfg)
	os.WriteFile(pod, b, 0o644)
	id := strings.TrimSpace(e.d.Crictl(t, "create", e.pod, ctr, pod))
	e.d.Crictl(t, "start", id)
	if out := e.d.Crictl(t, "ps"); !contains(out, id[:13]) || !contains(out, "Running") {
		t.Errorf("crictl ps:\n%s", out)
	}
	if out := e.d.Crictl(t, "inspect", id); !contains(out, `"pid"`) || !contains(out, `"runtimeSpec"`) {
		t.Errorf("crictl inspect:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !contains(e.d.Crictl(t, "logs", id), "from-crictl") {
		if time.Now().After(deadline) {
			t.Fatalf("crictl logs never showed the output")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.d.Crictl(t, "stop", "--timeout", "1", id)
	if out := e.d.Crictl(t, "ps", "-a"); !contains(out, "Exited") {
		t.Errorf("crictl ps -a after stop:\n%s", out)
	}
	e.d.Crictl(t, "rm", id)
	if out := e.d.Crictl(t, "ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("crictl ps -aq after rm: %q", out)
	}
}

func TestTTYContainerLogsItsTerminal(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "tty; echo in-a-tty"}
		c.Tty = true
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	out := strings.Join(logRecords(t, st.LogPath), "|")
	if st.ExitCode != 0 || !contains(out, "stdout F /dev/pts/") || !contains(out, "in-a-tty") {
		t.Errorf("tty container: exit %d, log %q; want a /dev/pts terminal and its output as stdout", st.ExitCode, out)
	}
}

// TestEnvNamesThatAreNotIdentifiers: Kubernetes allows environment names
// such as "data-1" (envFrom a secret's keys); they reach the process as
// given. (A shell may drop them from what it passes on: Debian's busybox
// 1.35 does, which is why node e2e's "Secrets should be consumable via the
// environment" is listed there.)
func TestEnvNamesThatAreNotIdentifiers(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"env"}
		c.Envs = append(c.Envs, &runtimeapi.KeyValue{Key: "data-1", Value: []byte("value-1")}, &runtimeapi.KeyValue{Key: "p-data.2", Value: []byte("value-2")})
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	got := strings.Join(logRecords(t, st.LogPath), "|")
	for _, want := range []string{"stdout F data-1=value-1", "stdout F p-data.2=value-2"} {
		if !strings.Contains(got, want) {
			t.Errorf("env output %q lacks %q", got, want)
		}
	}
}
