package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// sharedPID makes a pod whose containers share one PID namespace.
func sharedPID(c *runtimeapi.PodSandboxConfig) {
	c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
}

// inPodPID puts a container in its pod's PID namespace.
func inPodPID(c *runtimeapi.ContainerConfig) {
	c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
}

// pausePid returns the pod's pause process, from verbose status.
func (e *containerEnv) pausePid(t *testing.T) int {
	t.Helper()
	_, info := podStatus(t, e.d, e.pod)
	pid, _ := info["pid"].(float64)
	if pid == 0 {
		t.Fatalf("no pause process: %v", info)
	}
	return int(pid)
}

func sameNamespace(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		t.Fatalf("stat %s: %v", a, err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		t.Fatalf("stat %s: %v", b, err)
	}
	return sa.Ino == sb.Ino && sa.Dev == sb.Dev
}

// The pause process of a shared-PID pod is every container's /proc/1: it
// must hold nothing of the host.
func TestSharedPIDPauseIsConfined(t *testing.T) {
	e := newContainerEnv(t, sharedPID)
	pid := e.pausePid(t)
	proc := func(p string) string { return fmt.Sprintf("/proc/%d/%s", pid, p) }

	status, err := os.ReadFile(proc("status"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.ReplaceAll("stdout F "+string(status), "\n", "|stdout F ")
	for field, want := range map[string]string{
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	} {
		if got := statusField(fields, field); got != want {
			t.Errorf("pause %s = %q, want %q", field, got, want)
		}
	}
	_, info := podStatus(t, e.d, e.pod)
	for _, kind := range []string{"net", "ipc", "uts"} {
		pin := nsPath(info, map[string]string{"net": "network", "ipc": "ipc", "uts": "uts"}[kind])
		if pin == "" || !sameNamespace(t, proc("ns/"+kind), pin) {
			t.Errorf("pause %s namespace is not the pod's (%q)", kind, pin)
		}
	}
	if sameNamespace(t, proc("ns/mnt"), "/proc/self/ns/mnt") {
		t.Errorf("pause shares the host's mount namespace")
	}
	if entries, err := os.ReadDir(proc("root")); err != nil || len(entries) != 0 {
		t.Errorf("pause root holds %v (%v), want nothing", entries, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(proc("root"), &fs); err != nil || fs.Type != unix.TMPFS_MAGIC || fs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("pause root: type %x flags %x (%v), want a read-only tmpfs", fs.Type, fs.Flags, err)
	}
	if exe, _ := os.Readlink(proc("exe")); !strings.HasPrefix(exe, "/memfd:cria-pause") {
		t.Errorf("pause runs %q, want its sealed copy /memfd:cria-pause", exe)
	}
	if fds, _ := os.ReadDir(proc("fd")); len(fds) > 8 {
		t.Errorf("pause holds %d descriptors", len(fds))
	}
	for _, fd := range []string{"0", "1", "2", "5"} {
		if _, err := os.Readlink(proc("fd/" + fd)); err == nil {
			t.Errorf("pause still holds descriptor %s", fd)
		}
	}
	if cg, _ := os.ReadFile(proc("cgroup")); !strings.Contains(string(cg), "cria-pause-"+e.pod[:12]) {
		t.Errorf("pause cgroups = %s, want cria-pause-%s", cg, e.pod[:12])
	}

	// A container holding every capability (CAP_SYS_PTRACE and
	// CAP_SYS_ADMIN among them) sees the pause as /proc/1, and nothing of
	// the host through it.
	out, _ := e.runOnce(t, strings.Join([]string{
		"echo root:$(ls -a /proc/1/root | tr '\\n' ' ')",
		"cat /proc/1/root/etc/hostname 2>/dev/null && echo reached-host-etc",
		"echo exe:$(readlink /proc/1/exe)",
		"echo x >> /proc/1/exe 2>/dev/null && echo exe-writable",
		"echo cwd:$(ls -a /proc/1/cwd | tr '\\n' ' ')",
		"echo env:$(tr '\\0' ' ' < /proc/1/environ)",
		"kill -TERM 1; kill -INT 1; kill -HUP 1; sleep 0.2; kill -0 1 && echo pause-alive",
	}, "; "), func(c *runtimeapi.ContainerConfig) {
		inPodPID(c)
		c.Linux.SecurityContext.Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"ALL"}}
	})
	for _, want := range []string{"stdout F root:. ..", "stdout F exe:/memfd:cria-pause (deleted)", "stdout F cwd:. ..", "stdout F env:", "stdout F pause-alive"} {
		if !strings.Contains("|"+out+"|", "|"+want+"|") {
			t.Errorf("container output %q: want %q", out, want)
		}
	}
	for _, bad := range []string{"reached-host-etc", "exe-writable"} {
		if strings.Contains(out, bad) {
			t.Errorf("container output %q: %s", out, bad)
		}
	}
	if _, err := os.Stat(proc("")); err != nil {
		t.Errorf("pause gone after signals from inside the pod: %v", err)
	}
}

// waitSandboxNotReady waits for the pod to turn notready and returns the
// reason verbose status gives.
func (e *containerEnv) waitSandboxNotReady(t *testing.T, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, info := podStatus(t, e.d, e.pod)
		if st.State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			reason, _ := info["reason"].(string)
			return reason
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox still %v after %v", st.State, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A pause that dies turns its pod notready at once, and no container is
// created in it afterwards (it would join a PID namespace without init, or
// a reused pid's).
func TestPauseDeathMakesSandboxNotReady(t *testing.T) {
	e := newContainerEnv(t, sharedPID)
	events, err := e.d.Runtime.GetContainerEvents(ctxT(t), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pid := e.pausePid(t)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if reason := e.waitSandboxNotReady(t, 3*time.Second); !strings.Contains(reason, "pause process") {
		t.Errorf("reason = %q, want it to name the pause process", reason)
	}
	for {
		ev, err := events.Recv()
		if err != nil {
			t.Fatalf("no sandbox STOPPED event: %v", err)
		}
		if ev.ContainerId == e.pod && ev.ContainerEventType == runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT {
			break
		}
	}
	_, err = e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "late"}, Image: &runtimeapi.ImageSpec{Image: busybox},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}},
	}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("CreateContainer in a pod whose pause died: %v, want FailedPrecondition", err)
	}
}

// A namespace pin removed by hand is noticed too.
func TestRemovedNamespacePinMakesSandboxNotReady(t *testing.T) {
	e := newContainerEnv(t)
	_, info := podStatus(t, e.d, e.pod)
	pin := nsPath(info, "ipc")
	if pin == "" || !strings.HasPrefix(pin, filepath.Join(e.d.Config.RunRoot, "sandboxes")) {
		t.Fatalf("ipc pin %q", pin)
	}
	if err := unix.Unmount(pin, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if reason := e.waitSandboxNotReady(t, 3*time.Second); !strings.Contains(reason, "ipc namespace") {
		t.Errorf("reason = %q, want it to name the ipc namespace", reason)
	}
}
