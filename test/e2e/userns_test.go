package e2e

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

// podUserns is what the kubelet sends for hostUsers: false: container IDs
// 0–65535 mapped onto host IDs 100000–165535.
func podUserns() *runtimeapi.UserNamespace {
	m := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 100000, Length: 65536}}
	return &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
}

func withPodUserns(pid runtimeapi.NamespaceMode) func(*runtimeapi.PodSandboxConfig) {
	return func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: pid, UsernsOptions: podUserns()}
	}
}

func inPodUserns(pid runtimeapi.NamespaceMode) func(*runtimeapi.ContainerConfig) {
	return func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: pid, UsernsOptions: podUserns()}
	}
}

// TestUserNamespacePod: in a pod with a user namespace of its own, the
// container's root is root inside and host ID 100000 outside: what it
// writes to a volume is 100000's, it cannot write a file of the host's
// root, and it can write the pod's own files (/etc/hosts, /dev/shm),
// which are idmapped. An idmapped volume (the kubelet gives every volume
// the pod's mappings) shows the host's root as container root.
func TestUserNamespacePod(t *testing.T) {
	for _, pid := range []runtimeapi.NamespaceMode{runtimeapi.NamespaceMode_CONTAINER, runtimeapi.NamespaceMode_POD} {
		t.Run(pid.String(), func(t *testing.T) {
			e := newContainerEnv(t, withPodUserns(pid))
			vol := t.TempDir()
			if err := os.Chmod(vol, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(vol, 100000, 100000); err != nil {
				t.Fatal(err)
			}
			rootFile := filepath.Join(t.TempDir(), "root-owned")
			if err := os.WriteFile(rootFile, []byte("host\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mapped := t.TempDir()
			if err := os.WriteFile(filepath.Join(mapped, "f"), []byte("host\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			pm := podUserns()
			out, code := e.runOnce(t, strings.Join([]string{
				"id -u", "id -g", "cat /proc/self/uid_map", "cat /proc/self/gid_map",
				"touch /vol/made-by-root && echo wrote-volume",
				"echo x >> /host-root-file 2>/dev/null || echo refused-host-root",
				"echo 10.0.0.1 extra >> /etc/hosts && echo wrote-hosts",
				"touch /dev/shm/s && echo wrote-shm",
				"stat -c %u /mapped/f; echo x >> /mapped/f && echo wrote-mapped",
				"ls /proc/1/root/ >/dev/null 2>&1 && echo reached-pid1-root || echo no-pid1-root",
			}, "; "), func(c *runtimeapi.ContainerConfig) {
				inPodUserns(runtimeapi.NamespaceMode_POD)(c)
				c.Linux.SecurityContext.NamespaceOptions.Pid = pid
				c.Mounts = []*runtimeapi.Mount{
					{ContainerPath: "/vol", HostPath: vol},
					{ContainerPath: "/host-root-file", HostPath: rootFile},
					{ContainerPath: "/mapped", HostPath: mapped, UidMappings: pm.Uids, GidMappings: pm.Gids},
				}
			})
			want := []string{"0", "0", "0 100000 65536", "0 100000 65536", "wrote-volume", "refused-host-root", "wrote-hosts", "wrote-shm", "0", "wrote-mapped"}
			var lines []string
			for _, r := range strings.Split(out, "|") {
				if r, ok := strings.CutPrefix(r, "stdout F "); ok {
					lines = append(lines, strings.Join(strings.Fields(r), " "))
				}
			}
			if code != 0 || len(lines) < len(want) || strings.Join(lines[:len(want)], "|") != strings.Join(want, "|") {
				t.Fatalf("exit %d, output %q; want %q", code, lines, want)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(vol, "made-by-root"), &st); err != nil || st.Uid != 100000 || st.Gid != 100000 {
				t.Errorf("the file container root made in the volume: %+v (%v), want owned by 100000:100000", st, err)
			}
			if b, _ := os.ReadFile(rootFile); string(b) != "host\n" {
				t.Errorf("the host root's file was changed: %q", b)
			}
			if pid == runtimeapi.NamespaceMode_POD && lines[len(lines)-1] != "no-pid1-root" {
				t.Errorf("a container of the pod reached the pause's root through /proc/1/root")
			}

			// Exec joins the same user namespace.
			id, _, _ := e.startSleeper(t)
			resp, err := e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"cat", "/proc/self/uid_map"}})
			if err != nil || strings.Join(strings.Fields(string(resp.GetStdout())), " ") != "0 100000 65536" {
				t.Errorf("ExecSync in a user-namespaced container: %q, %v", resp.GetStdout(), err)
			}
		})
	}
}

// TestUserNamespaceRefusals: RunPodSandbox refuses user namespace options
// that are not a pod's own namespace mapping container root, and leaves
// nothing; a container must share its pod's.
func TestUserNamespaceRefusals(t *testing.T) {
	e := newContainerEnv(t, withPodUserns(runtimeapi.NamespaceMode_CONTAINER))
	m := func(c, h, l uint32) *runtimeapi.IDMapping {
		return &runtimeapi.IDMapping{ContainerId: c, HostId: h, Length: l}
	}
	one := []*runtimeapi.IDMapping{m(0, 100000, 65536)}
	for _, tc := range []struct {
		name string
		u    *runtimeapi.UserNamespace
		want string
	}{
		{"NODE with mappings", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE, Uids: one, Gids: one}, "takes no mappings"},
		{"two UID mappings", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: []*runtimeapi.IDMapping{m(0, 100000, 10), m(10, 200000, 10)}, Gids: one}, "exactly one mapping"},
		{"no GID mapping", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: one}, "gids"},
		{"root not mapped", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: []*runtimeapi.IDMapping{m(1, 100000, 10)}, Gids: one}, "container ID 0"},
		{"zero length", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: []*runtimeapi.IDMapping{m(0, 100000, 0)}, Gids: one}, "length is 0"},
		{"overflow", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: []*runtimeapi.IDMapping{m(0, 4294967000, 65536)}, Gids: one}, "past the last ID"},
		{"onto host root", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: []*runtimeapi.IDMapping{m(0, 0, 65536)}, Gids: one}, "host's root"},
		{"CONTAINER", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}, "mode"},
		{"TARGET", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_TARGET}, "mode"},
	} {
		cfg := podConfig(func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = tc.u
		})
		_, err := e.d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "userns_options") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: RunPodSandbox: %v, want InvalidArgument naming userns_options and %q", tc.name, err, tc.want)
		}
	}
	resp, err := e.d.Runtime.ListPodSandbox(ctxT(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(resp.GetItems()) != 1 {
		t.Errorf("refused pods left sandboxes: %v (%v)", resp.GetItems(), err)
	}

	// A container with the host's user namespace in the pod's.
	_, err = e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "host-userns"},
		Image:    &runtimeapi.ImageSpec{Image: busybox},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER, UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}},
		}},
	}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "differs from the pod's") {
		t.Errorf("CreateContainer with another user namespace than its pod's: %v, want InvalidArgument", err)
	}
}

// TestUserNamespacePodAcrossRestart: a pod with a user namespace of its
// own (sharing PIDs, so its pause holds the namespaces too) survives a
// kill -9 of the daemon; afterwards exec, stats, log reopening and
// port-forward work in it, and stopping and removing it leave nothing
// (the environment's cleanup checks).
func TestUserNamespacePodAcrossRestart(t *testing.T) {
	e := newContainerEnv(t, withPodUserns(runtimeapi.NamespaceMode_POD))
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		inPodUserns(runtimeapi.NamespaceMode_POD)(c)
		c.Command = []string{"sleep", "3600"}
	})
	e.start(t, id)
	_, info := podStatus(t, e.d, e.pod)
	if p := nsPath(info, "user"); p == "" {
		t.Fatalf("verbose PodSandboxStatus names no user namespace: %v", info["namespaces"])
	}
	e.d.Kill()
	e.d.Start()

	st, _ := podStatus(t, e.d, e.pod)
	if st.State != runtimeapi.PodSandboxState_SANDBOX_READY || e.status(t, id).State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after a restart: pod %v, container %v; want both up", st.State, e.status(t, id).State)
	}
	resp, err := e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", "id -u; cat /proc/self/uid_map"}})
	if got := strings.Join(strings.Fields(string(resp.GetStdout())), " "); err != nil || got != "0 0 100000 65536" {
		t.Errorf("ExecSync after a restart: %q, %v", got, err)
	}
	if s, err := e.d.Runtime.ContainerStats(ctxT(t), &runtimeapi.ContainerStatsRequest{ContainerId: id}); err != nil || s.GetStats().GetMemory().GetWorkingSetBytes().GetValue() == 0 {
		t.Errorf("ContainerStats: %v, %v", s, err)
	}
	if _, err := e.d.Runtime.ReopenContainerLog(ctxT(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
		t.Errorf("ReopenContainerLog: %v", err)
	}

	// Port-forward enters the pod's network namespace, which its user
	// namespace owns.
	_, info = podStatus(t, e.d, e.pod)
	listenIn(t, nsPath(info, "network"), "127.0.0.1:8080")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pf := e.d.CrictlCommand(ctx, t, "port-forward", e.pod, "18090:8080")
	stdout, _ := pf.StdoutPipe()
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pf.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); !strings.Contains(line, "Forwarding from") {
		t.Fatalf("crictl port-forward: %q", line)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:18090", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.Contains(line, "hello from 127.0.0.1:8080") {
		t.Errorf("through the port-forward: %q, %v", line, err)
	}
}

// TestUserNamespaceImageVolume: in a pod with a user namespace, the
// container's root filesystem and an image volume are the image's files
// seen through the pod's mappings (container root owns what the image's
// root owns), with nothing copied: the image's layers stay the host
// root's on disk.
func TestUserNamespaceImageVolume(t *testing.T) {
	e := newContainerEnv(t, withPodUserns(runtimeapi.NamespaceMode_CONTAINER))
	const volRef = "registry.k8s.io/e2e-test-images/data:1"
	e.reg.Push(t, "e2e-test-images/data:1", framework.BuildImage(t, framework.ImageSpec{Files: map[string]framework.File{
		"data/greeting": {Content: []byte("hello from the image\n")},
	}}))
	mustPull(t, e.d, volRef)
	out, code := e.runOnce(t, "stat -c %u:%g /bin/busybox /vol/data/greeting; cat /vol/data/greeting; touch /made && stat -c %u /made", func(c *runtimeapi.ContainerConfig) {
		inPodUserns(runtimeapi.NamespaceMode_CONTAINER)(c)
		c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/vol", Readonly: true, Image: &runtimeapi.ImageSpec{Image: volRef}}}
	})
	if want := "stdout F 0:0|stdout F 0:0|stdout F hello from the image|stdout F 0"; code != 0 || out != want {
		t.Errorf("exit %d, output %q; want %q", code, out, want)
	}
	// The layers on disk are unchanged: the host root's, not 100000's.
	layers, _ := filepath.Glob(filepath.Join(e.d.Config.StorageRoot(), "overlay", "*", "diff", "bin", "busybox"))
	if len(layers) == 0 {
		t.Fatal("no image layer holding /bin/busybox found")
	}
	for _, l := range layers {
		var st syscall.Stat_t
		if err := syscall.Stat(l, &st); err != nil || st.Uid != 0 {
			t.Errorf("%s: owner %d (%v), want the host's root: the image was chowned", l, st.Uid, err)
		}
	}
}

// TestUserNamespaceHostNetwork: with the host's network, which the pod's
// user namespace does not own, the container gets the host's /sys bound
// read-only (sysfs could not be mounted), as Status's
// user_namespaces_host_network says.
func TestUserNamespaceHostNetwork(t *testing.T) {
	e := newContainerEnv(t, withPodUserns(runtimeapi.NamespaceMode_CONTAINER), func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
	})
	resp, err := e.d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{})
	if err != nil || !resp.GetFeatures().GetUserNamespacesHostNetwork() {
		t.Errorf("Status features: %v, %v; want user_namespaces_host_network", resp.GetFeatures(), err)
	}
	for _, h := range resp.GetRuntimeHandlers() {
		if !h.GetFeatures().GetUserNamespaces() {
			t.Errorf("handler %q: %v; want user_namespaces", h.GetName(), h.GetFeatures())
		}
	}
	out, code := e.runOnce(t, "cat /proc/self/uid_map; test -e /sys/class/net/lo && echo sys; touch /sys/x 2>/dev/null || echo read-only", func(c *runtimeapi.ContainerConfig) {
		inPodUserns(runtimeapi.NamespaceMode_CONTAINER)(c)
		c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
	})
	if want := "stdout F          0     100000      65536|stdout F sys|stdout F read-only"; code != 0 || out != want {
		t.Errorf("exit %d, output %q; want %q", code, out, want)
	}
}

// TestUserNamespaceWhereLayersCannotBeIDMapped: with a storage driver that
// cannot mount image layers through mappings (vfs), Status offers no user
// namespaces and says why, and a pod that asks for one is refused with
// FailedPrecondition before anything is made; cria never copies the image
// instead.
func TestUserNamespaceWhereLayersCannotBeIDMapped(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork(), framework.WithConfig(func(c *config.Config) { c.Image.StorageDriver = "vfs" }))
	resp, err := d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range resp.GetRuntimeHandlers() {
		if h.GetFeatures().GetUserNamespaces() {
			t.Errorf("handler %q offers user namespaces on vfs", h.GetName())
		}
	}
	if !strings.Contains(resp.GetInfo()["runtime"], "storage driver cannot mount image layers through ID mappings") {
		t.Errorf("verbose Status does not say why: %s", resp.GetInfo()["runtime"])
	}
	_, err = d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(withPodUserns(runtimeapi.NamespaceMode_CONTAINER))})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "userns_options") {
		t.Errorf("RunPodSandbox with a user namespace on vfs: %v, want FailedPrecondition naming userns_options", err)
	}
	assertNothingLeft(t, d)
}
