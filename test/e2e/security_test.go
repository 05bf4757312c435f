package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runOnce creates and starts a container with cmd, waits for it to exit
// and returns its output records joined by "|".
func (e *containerEnv) runOnce(t *testing.T, cmd string, edit func(*runtimeapi.ContainerConfig)) (string, int32) {
	t.Helper()
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", cmd}
		if edit != nil {
			edit(c)
		}
	})
	e.start(t, id)
	st := e.waitExited(t, id)
	return strings.Join(logRecords(t, st.LogPath), "|"), st.ExitCode
}

// statusField greps a field of /proc/self/status from the output.
func statusField(out, field string) string {
	for _, r := range strings.Split(out, "|") {
		r = strings.TrimPrefix(r, "stdout F ")
		if v, ok := strings.CutPrefix(r, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestSecurityContext(t *testing.T) {
	e := newContainerEnv(t, func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.Privileged = true // lets one container below be privileged
	})
	sec := func(c *runtimeapi.ContainerConfig) *runtimeapi.LinuxContainerSecurityContext {
		return c.Linux.SecurityContext
	}

	t.Run("default capabilities and no seccomp", func(t *testing.T) {
		out, _ := e.runOnce(t, "cat /proc/self/status", nil)
		if got := statusField(out, "CapEff"); got != "00000000a80425fb" {
			t.Errorf("CapEff = %q, want the default set 00000000a80425fb", got)
		}
		if got := statusField(out, "NoNewPrivs"); got != "0" {
			t.Errorf("NoNewPrivs = %q", got)
		}
	})
	t.Run("drop ALL, add NET_ADMIN, no_new_privs, RuntimeDefault seccomp", func(t *testing.T) {
		out, _ := e.runOnce(t, "cat /proc/self/status", func(c *runtimeapi.ContainerConfig) {
			sec(c).Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"NET_ADMIN"}}
			sec(c).NoNewPrivs = true
			sec(c).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		})
		if got := statusField(out, "CapEff"); got != "0000000000001000" {
			t.Errorf("CapEff = %q, want only NET_ADMIN (0000000000001000)", got)
		}
		if statusField(out, "NoNewPrivs") != "1" || statusField(out, "Seccomp") != "2" {
			t.Errorf("NoNewPrivs %q Seccomp %q, want 1 and 2 (filter)", statusField(out, "NoNewPrivs"), statusField(out, "Seccomp"))
		}
	})
	t.Run("add ALL, drop SYS_ADMIN", func(t *testing.T) {
		// kubernetes#51980: a named drop wins over add ALL.
		out, _ := e.runOnce(t, "cat /proc/self/status", func(c *runtimeapi.ContainerConfig) {
			sec(c).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"ALL"}, DropCapabilities: []string{"SYS_ADMIN"}}
		})
		got, err := strconv.ParseUint(statusField(out, "CapEff"), 16, 64)
		if err != nil {
			t.Fatalf("CapEff in %q: %v", out, err)
		}
		own, _ := os.ReadFile("/proc/self/status")
		all, _ := strconv.ParseUint(statusField(strings.ReplaceAll("stdout F "+string(own), "\n", "|stdout F "), "CapEff"), 16, 64)
		if want := all &^ (1 << unix.CAP_SYS_ADMIN); got != want {
			t.Errorf("CapEff = %016x, want every capability but CAP_SYS_ADMIN: %016x", got, want)
		}
	})
	t.Run("Localhost seccomp blocks what Unconfined allows", func(t *testing.T) {
		profile := filepath.Join(e.d.Dir, "deny-chmod.json")
		os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644)
		cmd := "touch /tmp/f && chmod 600 /tmp/f && echo chmod-ok || echo chmod-denied"
		out, _ := e.runOnce(t, cmd, func(c *runtimeapi.ContainerConfig) {
			sec(c).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: profile}
		})
		if !contains(out, "chmod-denied") {
			t.Errorf("with the profile: %q, want chmod denied", out)
		}
		out, _ = e.runOnce(t, cmd, func(c *runtimeapi.ContainerConfig) {
			sec(c).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		})
		if !contains(out, "chmod-ok") {
			t.Errorf("unconfined: %q, want chmod allowed", out)
		}
	})
	t.Run("masked and readonly paths", func(t *testing.T) {
		// /proc/timer_list is in the default masked set and exists on
		// kernels without /proc/kcore.
		out, _ := e.runOnce(t, "wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-readonly", nil)
		if !contains(out, "stdout F 0|") || !contains(out, "sys-readonly") {
			t.Errorf("output %q: want /proc/timer_list masked (0 bytes) and /proc/sys read-only", out)
		}
	})
	t.Run("privileged", func(t *testing.T) {
		out, _ := e.runOnce(t, "cat /proc/self/status; ls /dev/null /dev/loop-control 2>&1 | wc -l", func(c *runtimeapi.ContainerConfig) {
			sec(c).Privileged = true
		})
		// Every capability the daemon has (as root here, this test's own).
		own, _ := os.ReadFile("/proc/self/status")
		if got, want := statusField(out, "CapEff"), statusField(strings.ReplaceAll("stdout F "+string(own), "\n", "|stdout F "), "CapEff"); got != want {
			t.Errorf("privileged CapEff = %q, want the daemon's %q", got, want)
		}
	})
	t.Run("device", func(t *testing.T) {
		out, code := e.runOnce(t, "ls -l /dev/mynull && echo x > /dev/mynull && echo wrote", func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/mynull", HostPath: "/dev/null", Permissions: "rw"}}
		})
		if code != 0 || !contains(out, "1,   3") || !contains(out, "wrote") {
			t.Errorf("device: exit %d, output %q", code, out)
		}
	})
	t.Run("readonly bind mount", func(t *testing.T) {
		host := filepath.Join(e.d.Dir, "data")
		os.MkdirAll(host, 0o755)
		os.WriteFile(filepath.Join(host, "hello"), []byte("from-host\n"), 0o644)
		out, _ := e.runOnce(t, "cat /data/hello; touch /data/new 2>/dev/null && echo wrote || echo ro", func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: host, Readonly: true}}
		})
		if !contains(out, "from-host") || !contains(out, "stdout F ro") {
			t.Errorf("readonly mount: %q", out)
		}
	})
	t.Run("host-to-container propagation", func(t *testing.T) {
		host := filepath.Join(e.d.Dir, "prop")
		os.MkdirAll(host, 0o755)
		// Make it a shared mount point of its own, as the kubelet's pod
		// volumes are.
		if err := unix.Mount(host, host, "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(host, unix.MNT_DETACH)
		if err := unix.Mount("", host, "", unix.MS_SHARED, ""); err != nil {
			t.Fatal(err)
		}
		id := e.create(t, func(c *runtimeapi.ContainerConfig) {
			c.Command = []string{"sh", "-c", "while [ ! -e /prop/late/marker ]; do sleep 0.05; done; echo saw-late-mount"}
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/prop", HostPath: host, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}}
		})
		e.start(t, id)
		late := filepath.Join(host, "late")
		os.MkdirAll(late, 0o755)
		if err := unix.Mount("tmpfs", late, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(late, unix.MNT_DETACH)
		os.WriteFile(filepath.Join(late, "marker"), nil, 0o644)
		st := e.waitExited(t, id)
		if !contains(strings.Join(logRecords(t, st.LogPath), "|"), "saw-late-mount") {
			t.Errorf("a mount made on the host after start did not reach the container")
		}
	})
}

// TestGuaranteedOOMScoreWithoutSysResource: the kubelet gives a Guaranteed
// pod's containers oom_score_adj -997. A daemon without CAP_SYS_RESOURCE
// (this machine's root) cannot start a process below its own value, so it
// raises the value to its own rather than fail every such container; with
// the capability the container gets -997.
func TestGuaranteedOOMScoreWithoutSysResource(t *testing.T) {
	e := newContainerEnv(t)
	out, code := e.runOnce(t, "cat /proc/self/oom_score_adj", func(c *runtimeapi.ContainerConfig) {
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{OomScoreAdj: -997}
	})
	want := "-997"
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.d.PID()))
	if m := regexp.MustCompile(`CapEff:\s*([0-9a-f]+)`).FindSubmatch(status); m != nil {
		if eff, _ := strconv.ParseUint(string(m[1]), 16, 64); eff&(1<<unix.CAP_SYS_RESOURCE) == 0 {
			own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", e.d.PID()))
			want = strings.TrimSpace(string(own))
		}
	}
	if code != 0 || out != "stdout F "+want {
		t.Errorf("container asking for oom_score_adj -997: exit %d, %q; want it to run with %s", code, out, want)
	}
}
