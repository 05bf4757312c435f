package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
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
	if got, want := oomScoreAdj(t, pid), helperOOMScoreAdj("-998"); got != want {
		t.Errorf("pause oom_score_adj = %s, want %s", got, want)
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

// A full log disk does not stop the monitor from draining the container's
// output: the container goes on, the drops are reported, and logging
// resumes once there is space again.
func TestFullLogDiskKeepsDraining(t *testing.T) {
	e := newContainerEnv(t)
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", e.logDir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(e.logDir, unix.MNT_DETACH) })
	filler := filepath.Join(e.logDir, "filler")
	if err := os.WriteFile(filler, make([]byte, 192<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	// 1 MiB of output, far more than the disk and a pipe's buffer hold.
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "head -c 1048500 /dev/zero | tr '\\0' x | fold -w 100; echo; touch /tmp/wrote-all; " +
			"while [ ! -e /tmp/go-on ]; do sleep 0.05; done; echo resumed-line; sleep 3600"}
	})
	e.start(t, id)
	execSync := func(cmd string) (*runtimeapi.ExecSyncResponse, error) {
		return e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", cmd}, Timeout: 10})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := execSync("test -e /tmp/wrote-all && echo yes")
		if err == nil && strings.TrimSpace(string(resp.Stdout)) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container is still blocked writing its output after 30s (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	monitorLog := filepath.Join(e.d.Config.RunRoot, "containers", id, "monitor.log")
	if b, _ := os.ReadFile(monitorLog); !strings.Contains(string(b), "no space left on device") {
		t.Errorf("monitor log %q: want the write error reported", b)
	}
	// Space comes back; the next line is logged, on a line of its own.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := execSync("touch /tmp/go-on"); err != nil {
		t.Fatal(err)
	}
	logPath := e.status(t, id).LogPath
	for deadline = time.Now().Add(10 * time.Second); ; {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), " stdout F resumed-line\n") {
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasSuffix(l, "resumed-line") && !criLogLine.MatchString(l) {
					t.Errorf("resumed record %q is not a CRI log line of its own", l)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			m, _ := os.ReadFile(monitorLog)
			t.Fatalf("no resumed-line in the log 10s after space came back; log ends %q; monitor log %q", b[max(0, len(b)-300):], m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, _ := os.ReadFile(monitorLog); !strings.Contains(string(b), "log writes resumed") {
		t.Errorf("monitor log %q: want the recovery reported", b)
	}
}

// An image's account files are read as bounded regular files inside its
// root: a FIFO, a device node or a huge file fails CreateContainer with
// InvalidArgument and leaves nothing, and a symlink cannot reach the host.
func TestHostileImageAccountFiles(t *testing.T) {
	e := newContainerEnv(t)
	hostPasswd := filepath.Join(e.d.Dir, "host-passwd")
	if err := os.WriteFile(hostPasswd, []byte("hostonly:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		files    map[string]framework.File
		username string
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "fifo passwd", files: map[string]framework.File{"etc/passwd": {Special: tar.TypeFifo}},
			wantCode: codes.InvalidArgument, wantMsg: "/etc/passwd is not a regular file"},
		{name: "char device group", files: map[string]framework.File{"etc/group": {Special: tar.TypeChar, Major: 1, Minor: 5}},
			wantCode: codes.InvalidArgument, wantMsg: "/etc/group is not a regular file"},
		{name: "5 MiB passwd", files: map[string]framework.File{"etc/passwd": {Content: bytes.Repeat([]byte("u:x:1:1::/:/bin/sh\n"), 5<<20/19+1)}},
			wantCode: codes.InvalidArgument, wantMsg: "more than the 4194304 cria reads"},
		{name: "passwd symlink to a host file", files: map[string]framework.File{"etc/passwd": {Link: hostPasswd}},
			username: "hostonly", wantCode: codes.InvalidArgument, wantMsg: "hostonly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "hostile/" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")) + ":1"
			e.reg.Push(t, name, framework.BuildImage(t, framework.ImageSpec{Files: tc.files}))
			mustPull(t, e.d, "registry.k8s.io/"+name)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := e.d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))},
				Image:    &runtimeapi.ImageSpec{Image: "registry.k8s.io/" + name},
				Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: tc.username}},
			}})
			if status.Code(err) != tc.wantCode || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("CreateContainer: %v, want %v naming %q", err, tc.wantCode, tc.wantMsg)
			}
			if list, _ := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{}); len(list.GetContainers()) != 0 {
				t.Errorf("a refused create left %v", list.GetContainers())
			}
		})
	}
}

// Image VOLUMEs stay in the container's writable layer with the image's
// content: no host directory backs them, and none replaces a runtime mount.
func TestImageVolumesStayInTheWritableLayer(t *testing.T) {
	e := newContainerEnv(t)
	e.reg.Push(t, "volumes:1", framework.BuildImage(t, framework.ImageSpec{
		Volumes: []string{"/data", "/empty/dir", "/proc/sys", "/dev/shm", "/etc/hosts", "/sys"},
		Files:   map[string]framework.File{"data/seed": {Content: []byte("from-image\n")}},
	}))
	mustPull(t, e.d, "registry.k8s.io/volumes:1")
	out, code := e.runOnce(t, "cat /data/seed && echo new > /data/new && cat /data/new && test -d /empty/dir && echo empty-made; "+
		"grep -E ' /dev/shm | /proc | /etc/hosts ' /proc/self/mounts | cut -d' ' -f2,3", func(c *runtimeapi.ContainerConfig) {
		c.Image.Image = "registry.k8s.io/volumes:1"
	})
	for _, want := range []string{"stdout F from-image", "stdout F new", "stdout F empty-made", "stdout F /proc proc", "stdout F /dev/shm tmpfs", "stdout F /etc/hosts"} {
		if !strings.Contains("|"+out+"|", "|"+want) {
			t.Errorf("exit %d, output %q: want %q", code, out, want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.d.Config.Root, "volumes")); !os.IsNotExist(err) {
		t.Errorf("a host directory for volumes exists (%v)", err)
	}
}

// Only root may enter cria's state directories.
func TestStateDirectoriesArePrivate(t *testing.T) {
	e := newContainerEnv(t)
	id, _, _ := e.startSleeper(t)
	// The top directories can be passed through by name (for the root of
	// a user-namespaced pod), never listed or read.
	for _, dir := range []string{e.d.Config.Root, e.d.Config.RunRoot, filepath.Join(e.d.Config.RunRoot, "sandboxes"), e.d.Config.StorageRoot()} {
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o711 {
			t.Errorf("%s: %v (%v), want 0711", dir, st.Mode().Perm(), err)
		}
	}
	// What lies below is not reachable by another user: not the
	// container's root filesystem, nor the pod's /dev/shm.
	rootfs, _ := filepath.Glob(filepath.Join(e.d.Config.StorageRoot(), "overlay", "*", "merged", "bin"))
	if len(rootfs) == 0 {
		t.Fatal("no container root filesystem found")
	}
	for _, p := range append(rootfs, filepath.Join(e.d.Config.RunRoot, "sandboxes", e.pod, "shm")) {
		out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ls", p).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Permission denied") {
			t.Errorf("nobody listed %s: %v, %q", p, err, out)
		}
	}
	for _, dir := range []string{
		filepath.Join(e.d.Config.Root, "sandboxes"), filepath.Join(e.d.Config.Root, "containers"),
		filepath.Join(e.d.Config.RunRoot, "sandboxes", e.pod), filepath.Join(e.d.Config.RunRoot, "sandboxes", e.pod, "ns"),
		filepath.Join(e.d.Config.RunRoot, "containers", id),
	} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Errorf("stat %s: %v", dir, err)
			continue
		}
		if perm := st.Mode().Perm(); perm&0o067 != 0 {
			t.Errorf("%s has mode %#o, want 0700 (or 0710)", dir, perm)
		}
	}
}

// Logs are opened beneath the pod's log directory without following a
// symlink, at create and at every reopen: a link planted by whoever can
// write that directory never redirects a container's output.
func TestLogSymlinksAreNotFollowed(t *testing.T) {
	e := newContainerEnv(t)
	victim := filepath.Join(e.d.Dir, "victim")
	if err := os.WriteFile(victim, []byte("untouched\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	victimDir := filepath.Join(e.d.Dir, "victim-dir")
	os.MkdirAll(victimDir, 0o700)
	os.MkdirAll(filepath.Join(e.logDir, "planted"), 0o755)
	if err := os.Symlink(victim, filepath.Join(e.logDir, "planted", "0.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victimDir, filepath.Join(e.logDir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	create := func(name, logPath string) error {
		_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: busybox},
			Command: []string{"echo", "leaked"}, LogPath: logPath,
		}})
		return err
	}
	if err := create("planted", "planted/0.log"); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("create with a symlink at the log path: %v, want a refusal", err)
	}
	if err := create("linkdir", "linkdir/0.log"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("create with a symlinked log directory: %v, want InvalidArgument", err)
	}
	if entries, _ := os.ReadDir(victimDir); len(entries) != 0 {
		t.Errorf("files made through a symlinked log directory: %v", entries)
	}

	// ReopenContainerLog after the kubelet's file was swapped for a link.
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "while true; do echo leaked; sleep 0.05; done"}
	})
	e.start(t, id)
	logPath := e.status(t, id).LogPath
	if err := os.Rename(logPath, logPath+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, logPath); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Runtime.ReopenContainerLog(ctxT(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err == nil {
		t.Errorf("ReopenContainerLog through a symlink succeeded")
	}
	time.Sleep(200 * time.Millisecond)
	if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
}

// processesRunning counts the host's processes whose command line is args.
func processesRunning(args ...string) int {
	want := strings.Join(args, "\x00") + "\x00"
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline")); err == nil && string(b) == want {
			n++
		}
	}
	return n
}

// In a shared-PID or host-PID pod, a container's init dying kills nothing
// else: stop and exit kill every process of the container, through its
// cgroup.
func TestStopAndExitKillTheWholeContainer(t *testing.T) {
	for _, mode := range []runtimeapi.NamespaceMode{runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_NODE} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newContainerEnv(t, func(c *runtimeapi.PodSandboxConfig) { c.Linux.SecurityContext.NamespaceOptions.Pid = mode })
			pidMode := func(c *runtimeapi.ContainerConfig) { c.Linux.SecurityContext.NamespaceOptions.Pid = mode }
			waitGone := func(what string, args ...string) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for processesRunning(args...) != 0 {
					if time.Now().After(deadline) {
						t.Errorf("%s: %q still runs 10s later", what, strings.Join(args, " "))
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			// Stopped: its children go with it.
			stopped := e.create(t, func(c *runtimeapi.ContainerConfig) {
				pidMode(c)
				c.Command = []string{"sh", "-c", "sleep 1201 & sleep 1202 & exec sleep 1203"}
			})
			e.start(t, stopped)
			for deadline := time.Now().Add(5 * time.Second); processesRunning("sleep", "1201") == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the container's children never ran")
				}
			}
			if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: stopped, Timeout: 2}); err != nil {
				t.Fatal(err)
			}
			waitGone("after StopContainer", "sleep", "1201")
			waitGone("after StopContainer", "sleep", "1202")

			// Exited by itself: the same.
			exited := e.create(t, func(c *runtimeapi.ContainerConfig) {
				pidMode(c)
				c.Command = []string{"sh", "-c", "sleep 1204 > /dev/null 2>&1 & sleep 0.3; exit 3"}
			})
			e.start(t, exited)
			if st := e.waitExited(t, exited); st.ExitCode != 3 {
				t.Errorf("exit code %d, want 3", st.ExitCode)
			}
			waitGone("after its init exited", "sleep", "1204")
		})
	}
}

// serviceCgroup makes a cgroup of its own for the daemon, as a service
// manager gives each service (the pids hierarchy on cgroup v1, the unified
// one on v2), moves the daemon into it, and removes it at the end.
func serviceCgroup(t *testing.T, pid int) string {
	t.Helper()
	dir := "/sys/fs/cgroup/pids/criatest-service-" + strconv.Itoa(pid)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir = "/sys/fs/cgroup/criatest-service-" + strconv.Itoa(pid)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := unix.Rmdir(dir); err == nil || time.Now().After(deadline) {
				if err != nil {
					t.Errorf("rmdir %s: %v", dir, err)
				}
				return
			}
		}
	})
	if err := os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A service manager that stops the daemon by killing its whole cgroup
// (systemd's KillMode=control-group) leaves containers, their monitors and
// pause processes running, and the restarted daemon reports them right.
func TestKillingTheDaemonsCgroupLeavesContainers(t *testing.T) {
	unit, err := os.ReadFile("../../contrib/systemd/cria.service")
	if err != nil || !strings.Contains(string(unit), "\nKillMode=process\n") || !strings.Contains(string(unit), "\nDelegate=yes\n") {
		t.Errorf("contrib/systemd/cria.service (%v): want KillMode=process and Delegate=yes", err)
	}
	reg := framework.StartRegistry(t)
	reg.Push(t, "e2e-test-images/busybox:1.29-2", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"sh"}}))
	d := framework.StartDaemon(t, framework.WithBridgeNetwork(), framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io")))
	service := serviceCgroup(t, d.PID())
	mustPull(t, d, busybox)
	e := &containerEnv{d: d, reg: reg, logDir: filepath.Join(d.Dir, "pod-logs")}
	e.podCfg = podConfig(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = e.logDir }, sharedPID)
	e.pod = runPod(t, d, e.podCfg)
	t.Cleanup(func() {
		d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: e.pod})
		d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: e.pod})
		assertNothingLeft(t, d)
	})
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		inPodPID(c)
		c.Command = []string{"sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"}
	})
	e.start(t, id)
	pid, monitorPid := e.pids(t, id)
	pause := e.pausePid(t)
	for _, p := range []int{monitorPid, pause} {
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p))
		if strings.Contains(string(cg), filepath.Base(service)) {
			t.Errorf("pid %d is still in the daemon's cgroup:\n%s", p, cg)
		}
	}
	if got, want := oomScoreAdj(t, monitorPid), helperOOMScoreAdj("-999"); got != want {
		t.Errorf("monitor oom_score_adj = %s, want %s", got, want)
	}
	if got, want := oomScoreAdj(t, pid), oomScoreAdj(t, os.Getpid()); got != want {
		t.Errorf("container oom_score_adj = %s, want its own (here the test's %s), not its monitor's", got, want)
	}
	if cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", monitorPid)); !strings.Contains(string(cg), d.Config.MonitorCgroup) {
		t.Errorf("monitor cgroups = %s, want %s", cg, d.Config.MonitorCgroup)
	}

	// Every process of the daemon's cgroup, as systemd would end them.
	procs, _ := os.ReadFile(service + "/cgroup.procs")
	for _, f := range strings.Fields(string(procs)) {
		p, _ := strconv.Atoi(f)
		unix.Kill(p, unix.SIGKILL)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(service + "/cgroup.procs"); len(strings.TrimSpace(string(b))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon's cgroup still has processes")
		}
	}
	for _, p := range []int{pid, monitorPid, pause} {
		if err := unix.Kill(p, 0); err != nil {
			t.Errorf("pid %d did not survive its daemon's cgroup: %v", p, err)
		}
	}
	d.Start()
	if st := e.status(t, id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("after the restart the container is %v, want running", st.State)
	}
	if st, _ := podStatus(t, d, e.pod); st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("after the restart the pod is %v, want ready", st.State)
	}
	if _, err := d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, id); st.ExitCode != 7 {
		t.Errorf("exit code %d, want 7 (its monitor recorded it)", st.ExitCode)
	}
}

func oomScoreAdj(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// helperOOMScoreAdj is the score a runtime helper gets: want where root may
// lower scores (CAP_SYS_RESOURCE), else this test's own, unchanged.
func helperOOMScoreAdj(want string) string {
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			if caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && caps&(1<<unix.CAP_SYS_RESOURCE) != 0 {
				return want
			}
		}
	}
	b, _ := os.ReadFile("/proc/self/oom_score_adj")
	return strings.TrimSpace(string(b))
}

// A RemovePodSandbox racing a CreateContainer in the same pod never leaves
// a container without its sandbox: the create either finishes first (and
// the removal takes the container with it) or finds the pod gone.
func TestCreateRacingPodRemovalLeavesNothing(t *testing.T) {
	e := newContainerEnv(t)
	for round := 0; round < 6; round++ {
		podCfg := podConfig(func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = e.logDir })
		pod := runPod(t, e.d, podCfg)
		done := make(chan error, 1)
		go func() {
			_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: podCfg, Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "racer"}, Image: &runtimeapi.ImageSpec{Image: busybox},
				Command: []string{"sleep", "3600"}, LogPath: fmt.Sprintf("racer-%d.log", round),
			}})
			done <- err
		}()
		time.Sleep(time.Duration(round*10) * time.Millisecond)
		if _, err := e.d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatalf("round %d: StopPodSandbox: %v", round, err)
		}
		if _, err := e.d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatalf("round %d: RemovePodSandbox: %v", round, err)
		}
		createErr := <-done
		list, err := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: pod}})
		if err != nil || len(list.Containers) != 0 {
			t.Errorf("round %d (create: %v): containers of the removed pod: %v (%v)", round, createErr, list.GetContainers(), err)
		}
		if createErr != nil && status.Code(createErr) != codes.NotFound && status.Code(createErr) != codes.FailedPrecondition {
			t.Errorf("round %d: create racing the removal: %v, want success, NotFound or FailedPrecondition", round, createErr)
		}
	}
	if n := processesRunning("sleep", "3600"); n != 0 {
		t.Errorf("%d racer processes left", n)
	}
}

// An image's STOPSIGNAL in any of the forms images use is the signal a
// stop sends; one that names no signal fails CreateContainer.
func TestImageStopSignals(t *testing.T) {
	e := newContainerEnv(t)
	for i, tc := range []struct {
		stopSignal string
		trap       string // the signal as the shell's trap names it
	}{
		{"SIGRTMIN+3", "37"},
		{"10", "USR1"},
		{"usr2", "USR2"},
		{"SIGRTMAX-1", "63"},
	} {
		name := fmt.Sprintf("stopsignal:%d", i)
		e.reg.Push(t, name, framework.BuildImage(t, framework.ImageSpec{StopSignal: tc.stopSignal}))
		mustPull(t, e.d, "registry.k8s.io/"+name)
		id := e.create(t, func(c *runtimeapi.ContainerConfig) {
			c.Image.Image = "registry.k8s.io/" + name
			c.Command = []string{"sh", "-c", "trap 'exit 7' " + tc.trap + "; echo ready; while true; do sleep 0.05; done"}
		})
		e.start(t, id)
		e.waitLogged(t, id, "ready")
		if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 20}); err != nil {
			t.Fatal(err)
		}
		if st := e.status(t, id); st.ExitCode != 7 {
			t.Errorf("STOPSIGNAL %s: exit %d, want 7 from its trap", tc.stopSignal, st.ExitCode)
		}
	}
	e.reg.Push(t, "stopsignal:bad", framework.BuildImage(t, framework.ImageSpec{StopSignal: "SIGFOO"}))
	mustPull(t, e.d, "registry.k8s.io/stopsignal:bad")
	_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "badsignal"}, Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/stopsignal:bad"},
	}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "SIGFOO") {
		t.Errorf("an image with STOPSIGNAL SIGFOO: %v, want InvalidArgument naming it", err)
	}
}

// The TARGET PID mode (kubectl debug --target) joins the target
// container's PID namespace; a target that is unknown, in another pod or
// not running is refused.
func TestTargetPIDNamespace(t *testing.T) {
	e := newContainerEnv(t)
	target, _, _ := e.startSleeper(t)
	target2 := func(id string) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: id}
		}
	}
	out, code := e.runOnce(t, "tr '\\0' ' ' < /proc/1/cmdline; echo", target2(target))
	if code != 0 || !strings.Contains(out, "stdout F sleep 3600") {
		t.Errorf("debug container: exit %d, output %q; want the target's init as its /proc/1", code, out)
	}
	create := func(name string, edit func(*runtimeapi.ContainerConfig)) error {
		cfg := &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: busybox},
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{}},
		}
		edit(cfg)
		_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: cfg})
		return err
	}
	if err := create("unknown-target", target2("no-such-container")); status.Code(err) != codes.NotFound {
		t.Errorf("unknown target: %v, want NotFound", err)
	}
	other := runPod(t, e.d, podConfig())
	defer removePod(t, e.d, other)
	otherCtr, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: other, SandboxConfig: podConfig(), Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "other"}, Image: &runtimeapi.ImageSpec{Image: busybox}, Command: []string{"sleep", "3600"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := create("foreign-target", target2(otherCtr.ContainerId)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("target in another pod: %v, want InvalidArgument", err)
	}
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: target, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	if err := create("stopped-target", target2(target)); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("stopped target: %v, want FailedPrecondition", err)
	}
}

// AppArmor as the daemon finds it (this kernel has none: the default is no
// profile, and a named one is refused), and SELinux options as the host
// has SELinux (this kernel has none: nothing to apply, accepted).
func TestAppArmorAndSELinuxFollowTheHost(t *testing.T) {
	e := newContainerEnv(t)
	resp, err := e.d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		AppArmor struct {
			Enabled bool `json:"enabled"`
		} `json:"apparmor"`
	}
	if err := json.Unmarshal([]byte(resp.Info["runtime"]), &info); err != nil {
		t.Fatalf("verbose status %q: %v", resp.Info["runtime"], err)
	}
	param, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	hostHas := strings.HasPrefix(string(param), "Y")
	if info.AppArmor.Enabled != hostHas {
		t.Errorf("Status says AppArmor enabled=%v; the kernel's parameter says %q", info.AppArmor.Enabled, param)
	}
	if !hostHas {
		out, code := e.runOnce(t, "echo ran", func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		})
		if code != 0 || !strings.Contains(out, "ran") {
			t.Errorf("RuntimeDefault AppArmor without AppArmor: exit %d, %q; want it to run unconfined", code, out)
		}
		_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "aa-local"}, Image: &runtimeapi.ImageSpec{Image: busybox},
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "localhost/k8s-deny-write"},
			}},
		}})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("a Localhost AppArmor profile without AppArmor: %v, want FailedPrecondition", err)
		}
	}
	// Without SELinux in the kernel there is no label to apply, and SELinux
	// options are accepted, as containerd and CRI-O accept them (the
	// kubelet sets them on ordinary pods); a host that enforces SELinux
	// refuses them, since cria applies no labels.
	var st unix.Statfs_t
	hostEnforces := unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
	_, err = e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "selinux"}, Image: &runtimeapi.ImageSpec{Image: busybox},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{SelinuxOptions: &runtimeapi.SELinuxOption{Type: "container_t", Level: "s0:c1,c2"}}},
	}})
	if refused := status.Code(err) == codes.FailedPrecondition && strings.Contains(err.Error(), "selinux_options"); refused != hostEnforces || (!hostEnforces && err != nil) {
		t.Errorf("container SELinux options with SELinux enforced=%v: %v", hostEnforces, err)
	}
	pod, err := e.d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.SelinuxOptions = &runtimeapi.SELinuxOption{Level: "s0"}
	})})
	if err == nil {
		removePod(t, e.d, pod.PodSandboxId)
	}
	if refused := status.Code(err) == codes.FailedPrecondition && strings.Contains(err.Error(), "selinux_options"); refused != hostEnforces || (!hostEnforces && err != nil) {
		t.Errorf("pod SELinux options with SELinux enforced=%v: %v", hostEnforces, err)
	}
}

// pauseProcesses lists the pause processes of the daemon whose run root is
// runRoot (their command line names a sandbox directory under it).
func pauseProcesses(runRoot string) map[int]bool {
	pids := map[int]bool{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if args := strings.Split(string(b), "\x00"); len(args) >= 3 && args[1] == "pause" && strings.HasPrefix(args[2], runRoot+"/sandboxes/") {
			pids[pid] = true
		}
	}
	return pids
}

// A crash at any instant of a shared-PID RunPodSandbox leaves no pause
// process that the restarted daemon does not know of (one that was never
// recorded ends by itself), and every pod it left can be removed, with a
// network config or without one (where the ADD could not have started).
func TestNoPauseLostToACrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []framework.DaemonOption
	}{{"bridge network", []framework.DaemonOption{framework.WithBridgeNetwork()}}, {"no network config", nil}} {
		t.Run(tc.name, func(t *testing.T) { testNoPauseLostToACrash(t, framework.StartDaemon(t, tc.opts...)) })
	}
}

func testNoPauseLostToACrash(t *testing.T, d *framework.Daemon) {
	for i := 0; i < 16; i++ {
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(sharedPID)})
		}()
		time.Sleep(time.Duration(i) * 3 * time.Millisecond)
		d.Kill()
		d.Start()
		<-done // it may have reached the restarted daemon
		known := map[int]bool{}
		list, err := d.Runtime.ListPodSandbox(ctxT(t), &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sb := range list.Items {
			_, info := podStatus(t, d, sb.Id)
			if pid, _ := info["pid"].(float64); pid != 0 {
				known[int(pid)] = true
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			var lost []int
			for pid := range pauseProcesses(d.Config.RunRoot) {
				if !known[pid] {
					lost = append(lost, pid)
				}
			}
			if len(lost) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("crash after %d ms: pause processes %v run that no sandbox records", i*3, lost)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	d.RemoveAllPods(t)
	if left := pauseProcesses(d.Config.RunRoot); len(left) != 0 {
		t.Errorf("pause processes left after removing every pod: %v", left)
	}
	assertNothingLeft(t, d)
}
