package specgen

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/oci/spec"
)

func baseInput() Input {
	return Input{
		ID: "c0ffee",
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
			// As the kubelet sends it for a pod that does not share PIDs (the
			// CRI's zero value, POD, means sharing).
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			}},
		},
		SandboxConfig: &runtimeapi.PodSandboxConfig{},
		Sandbox: Sandbox{
			ID: "pod1", Hostname: "web-0", NetNS: "/run/cria/sandboxes/pod1/ns/net", IPCNS: "/run/cria/sandboxes/pod1/ns/ipc",
			UTSNS: "/run/cria/sandboxes/pod1/ns/uts", PIDMode: "container", CgroupParent: "/kubepods/pod1",
			HostsPath: "/run/cria/sandboxes/pod1/hosts", ResolvPath: "/run/cria/sandboxes/pod1/resolv.conf",
			HostnamePath: "/run/cria/sandboxes/pod1/hostname", ShmPath: "/run/cria/sandboxes/pod1/shm",
		},
		Image:        ocispec.ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"serve"}, Env: []string{"PATH=/img/bin", "A=image", "B=image"}, WorkingDir: "/srv"},
		Rootfs:       "/var/lib/cria/storage/overlay/x/merged",
		CgroupDriver: cgroups.Cgroupfs,
		Devices: map[string]Device{
			"/dev/null":  {Type: "c", Major: 1, Minor: 3, FileMode: 0o666},
			"/dev/fuse":  {Type: "c", Major: 10, Minor: 229, FileMode: 0o666},
			"/dev/loop0": {Type: "b", Major: 7, Minor: 0, FileMode: 0o660, GID: 6},
		},
	}
}

var usernsMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}

func mountAt(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

func nsOf(s *specs.Spec, t specs.LinuxNamespaceType) (string, bool) {
	for _, n := range s.Linux.Namespaces {
		if n.Type == t {
			return n.Path, true
		}
	}
	return "", false
}

func TestGenerate(t *testing.T) {
	sec := func(in *Input) *runtimeapi.LinuxContainerSecurityContext { return in.Config.Linux.SecurityContext }
	for _, tc := range []struct {
		name    string
		edit    func(in *Input)
		check   func(t *testing.T, s *specs.Spec)
		wantErr string
		errKind error
	}{
		{name: "user namespace: joined by its pin, the pod's files idmapped", edit: func(in *Input) {
			in.Sandbox.UserNS = "/run/cria/sandboxes/pod1/ns/user"
			in.Sandbox.IDMappings = &IDMappings{UIDs: usernsMap, GIDs: usernsMap}
			pm := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 100000, Length: 65536}}
			in.Config.Mounts = []*runtimeapi.Mount{
				{ContainerPath: "/plain", HostPath: "/srv/plain"},
				{ContainerPath: "/mapped", HostPath: "/srv/mapped", UidMappings: pm, GidMappings: pm},
				{ContainerPath: "/image", Image: &runtimeapi.ImageSpec{Image: "data"}, UidMappings: pm, GidMappings: pm},
			}
			in.ImageMounts = map[int]string{2: "/var/lib/cria/storage/overlay/vol/merged"}
		}, check: func(t *testing.T, s *specs.Spec) {
			if p, ok := nsOf(s, specs.UserNamespace); !ok || p != "/run/cria/sandboxes/pod1/ns/user" {
				t.Errorf("user namespace %q, %v", p, ok)
			}
			if len(s.Linux.UIDMappings) != 0 || len(s.Linux.GIDMappings) != 0 {
				t.Errorf("mappings beside a userns path (libcontainer reads them from the namespace): %v %v", s.Linux.UIDMappings, s.Linux.GIDMappings)
			}
			for dst, mapped := range map[string]bool{"/etc/hosts": true, "/etc/resolv.conf": true, "/etc/hostname": true, "/dev/shm": true,
				"/plain": false, "/mapped": true, "/image": false} {
				m := mountAt(s, dst)
				if m == nil {
					t.Errorf("no mount at %s", dst)
					continue
				}
				if got := reflect.DeepEqual(m.UIDMappings, usernsMap) && reflect.DeepEqual(m.GIDMappings, usernsMap); got != mapped {
					t.Errorf("%s: idmapped %v (%v %v), want %v", dst, got, m.UIDMappings, m.GIDMappings, mapped)
				}
			}
			if m := mountAt(s, "/sys"); m == nil || m.Type != "sysfs" {
				t.Errorf("/sys in the pod's network: %+v, want sysfs", m)
			}
		}},
		{name: "user namespace with the host's network: /sys bound read-only", edit: func(in *Input) {
			in.Sandbox.UserNS = "/run/cria/sandboxes/pod1/ns/user"
			in.Sandbox.IDMappings = &IDMappings{UIDs: usernsMap, GIDs: usernsMap}
			in.Sandbox.NetNS, in.Sandbox.UTSNS = "", ""
		}, check: func(t *testing.T, s *specs.Spec) {
			m := mountAt(s, "/sys")
			if m == nil || m.Type != "bind" || m.Source != "/sys" || !slices.Contains(m.Options, "ro") || !slices.Contains(m.Options, "rbind") {
				t.Errorf("/sys = %+v, want the host's bound read-only", m)
			}
		}},
		{name: "image entrypoint and cmd", check: func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Args, []string{"/entry", "serve"}) {
				t.Errorf("args = %v", s.Process.Args)
			}
		}},
		{name: "env: image first, CRI overrides", edit: func(in *Input) {
			in.Config.Envs = []*runtimeapi.KeyValue{{Key: "B", Value: []byte("cri")}, {Key: "C", Value: []byte("new")}}
		}, check: func(t *testing.T, s *specs.Spec) {
			want := []string{"PATH=/img/bin", "A=image", "B=cri", "C=new"}
			if !reflect.DeepEqual(s.Process.Env, want) {
				t.Errorf("env = %v, want %v", s.Process.Env, want)
			}
		}},
		{name: "bad env name", edit: func(in *Input) { in.Config.Envs = []*runtimeapi.KeyValue{{Key: "A=B"}} }, wantErr: "config.envs[0]"},
		{name: "working dir: CRI over image", edit: func(in *Input) { in.Config.WorkingDir = "/work" }, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.Cwd != "/work" {
				t.Errorf("cwd = %q", s.Process.Cwd)
			}
		}},
		{name: "working dir from image", check: func(t *testing.T, s *specs.Spec) {
			if s.Process.Cwd != "/srv" {
				t.Errorf("cwd = %q", s.Process.Cwd)
			}
		}},
		{name: "relative working dir", edit: func(in *Input) { in.Config.WorkingDir = "work" }, wantErr: "config.working_dir"},
		{name: "hostname, tty, rootfs, user", edit: func(in *Input) {
			in.Config.Tty = true
			in.User = User{UID: 1000, GID: 1000, AdditionalGids: []uint32{50000}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Hostname != "web-0" || !s.Process.Terminal || s.Root.Path != "/var/lib/cria/storage/overlay/x/merged" || s.Root.Readonly {
				t.Errorf("hostname %q terminal %v root %+v", s.Hostname, s.Process.Terminal, s.Root)
			}
			if s.Process.User.UID != 1000 || s.Process.User.GID != 1000 || !reflect.DeepEqual(s.Process.User.AdditionalGids, []uint32{50000}) {
				t.Errorf("user = %+v", s.Process.User)
			}
		}},
		{name: "default capabilities", check: func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_NET_RAW") || slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
				t.Errorf("caps = %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "caps add and drop", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN", "CAP_SYS_TIME"}, DropCapabilities: []string{"net_raw"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Effective
			if !slices.Contains(c, "CAP_NET_ADMIN") || !slices.Contains(c, "CAP_SYS_TIME") || slices.Contains(c, "CAP_NET_RAW") || !slices.Contains(c, "CAP_CHOWN") {
				t.Errorf("caps = %v", c)
			}
		}},
		{name: "drop ALL add one", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"CHOWN"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Capabilities.Bounding, []string{"CAP_CHOWN"}) {
				t.Errorf("caps = %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "add ALL", edit: func(in *Input) { sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"ALL"}} },
			check: func(t *testing.T, s *specs.Spec) {
				if len(s.Process.Capabilities.Bounding) != len(capabilities) {
					t.Errorf("caps = %d, want all %d", len(s.Process.Capabilities.Bounding), len(capabilities))
				}
			}},
		{name: "add ALL is bounded by the host's", edit: func(in *Input) {
			in.HostCapabilities = []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}
			sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"ALL"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities.Bounding
			if !slices.Contains(c, "CAP_SYS_ADMIN") || slices.Contains(c, "CAP_SYS_MODULE") {
				t.Errorf("caps = %v, want the defaults and the host's, no more", c)
			}
		}},
		{name: "add ALL drop one keeps every other", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"ALL"}, DropCapabilities: []string{"SYS_ADMIN"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			c := s.Process.Capabilities
			if slices.Contains(c.Bounding, "CAP_SYS_ADMIN") || slices.Contains(c.Effective, "CAP_SYS_ADMIN") || len(c.Bounding) != len(capabilities)-1 {
				t.Errorf("caps = %v, want all but CAP_SYS_ADMIN", c.Bounding)
			}
		}},
		{name: "add ALL drop ALL is none", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"ALL"}, DropCapabilities: []string{"ALL"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if c := s.Process.Capabilities; len(c.Bounding)+len(c.Effective)+len(c.Permitted) != 0 {
				t.Errorf("caps = %v, want none", c.Bounding)
			}
		}},
		{name: "drop ALL add ALL is none", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"all"}, AddCapabilities: []string{"all"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if c := s.Process.Capabilities; len(c.Bounding) != 0 {
				t.Errorf("caps = %v, want none", c.Bounding)
			}
		}},
		{name: "drop ALL add two, lower case and CAP_ prefix", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"net_bind_service", "CAP_KILL"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Process.Capabilities.Bounding, []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}) {
				t.Errorf("caps = %v", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "a drop wins over the same add", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"SYS_TIME"}, DropCapabilities: []string{"SYS_TIME"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_TIME") {
				t.Errorf("caps = %v, want no CAP_SYS_TIME", s.Process.Capabilities.Bounding)
			}
		}},
		{name: "unknown capability in drop", edit: func(in *Input) {
			sec(in).Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"CAP_FLY"}}
		}, wantErr: "capabilities.drop_capabilities"},
		{name: "unknown capability", edit: func(in *Input) { sec(in).Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"CAP_FLY"}} },
			wantErr: "capabilities.add_capabilities"},
		{name: "privileged", edit: func(in *Input) {
			in.SandboxConfig = &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{Privileged: true}}}
			sec(in).Privileged = true
			sec(in).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}, check: func(t *testing.T, s *specs.Spec) {
			if len(s.Process.Capabilities.Bounding) != len(capabilities) || len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
				t.Errorf("privileged: caps %d masked %v ro %v", len(s.Process.Capabilities.Bounding), s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
			if m := mountAt(s, "/sys"); m == nil || slices.Contains(m.Options, "ro") {
				t.Errorf("/sys = %+v, want writable", m)
			}
			if len(s.Linux.Devices) != 3 || !s.Linux.Resources.Devices[0].Allow || s.Linux.Seccomp != nil {
				t.Errorf("privileged: devices %v rules %v seccomp %v", s.Linux.Devices, s.Linux.Resources.Devices, s.Linux.Seccomp != nil)
			}
		}},
		{name: "privileged container in unprivileged pod", edit: func(in *Input) { sec(in).Privileged = true }, wantErr: "the pod is not privileged"},
		{name: "default masked and readonly paths", check: func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
				t.Errorf("masked %v ro %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
		}},
		{name: "CRI masked and readonly paths", edit: func(in *Input) {
			sec(in).MaskedPaths, sec(in).ReadonlyPaths = []string{"/proc/x"}, []string{"/proc/y"}
		}, check: func(t *testing.T, s *specs.Spec) {
			if !reflect.DeepEqual(s.Linux.MaskedPaths, []string{"/proc/x"}) || !reflect.DeepEqual(s.Linux.ReadonlyPaths, []string{"/proc/y"}) {
				t.Errorf("masked %v ro %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
			}
		}},
		{name: "readonly rootfs and no_new_privs", edit: func(in *Input) { sec(in).ReadonlyRootfs, sec(in).NoNewPrivs = true, true },
			check: func(t *testing.T, s *specs.Spec) {
				if !s.Root.Readonly || !s.Process.NoNewPrivileges {
					t.Errorf("root %+v nnp %v", s.Root, s.Process.NoNewPrivileges)
				}
				if m := mountAt(s, "/etc/hosts"); m == nil || !slices.Contains(m.Options, "ro") {
					t.Errorf("/etc/hosts in a readonly rootfs = %+v, want ro", m)
				}
			}},
		{name: "pod namespaces, own pid", check: func(t *testing.T, s *specs.Spec) {
			for typ, want := range map[specs.LinuxNamespaceType]string{
				specs.NetworkNamespace: "/run/cria/sandboxes/pod1/ns/net", specs.IPCNamespace: "/run/cria/sandboxes/pod1/ns/ipc",
				specs.UTSNamespace: "/run/cria/sandboxes/pod1/ns/uts", specs.PIDNamespace: "", specs.MountNamespace: "",
			} {
				if got, ok := nsOf(s, typ); !ok || got != want {
					t.Errorf("%s namespace = %q (present %v), want %q", typ, got, ok, want)
				}
			}
		}},
		{name: "cgroup v1: the host's cgroup namespace", check: func(t *testing.T, s *specs.Spec) {
			if _, ok := nsOf(s, specs.CgroupNamespace); ok {
				t.Error("cgroup namespace present on cgroup v1")
			}
		}},
		{name: "cgroup v2: a cgroup namespace of its own", edit: func(in *Input) { in.CgroupV2 = true }, check: func(t *testing.T, s *specs.Spec) {
			if p, ok := nsOf(s, specs.CgroupNamespace); !ok || p != "" {
				t.Errorf("cgroup namespace = %q (present %v), want a new one", p, ok)
			}
		}},
		{name: "cgroup v2, privileged: the host's cgroup namespace", edit: func(in *Input) {
			in.CgroupV2 = true
			in.SandboxConfig = &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{Privileged: true}}}
			sec(in).Privileged = true
		}, check: func(t *testing.T, s *specs.Spec) {
			if _, ok := nsOf(s, specs.CgroupNamespace); ok {
				t.Error("cgroup namespace present for a privileged container")
			}
		}},
		{name: "host network pod", edit: func(in *Input) { in.Sandbox.NetNS, in.Sandbox.UTSNS = "", "" }, check: func(t *testing.T, s *specs.Spec) {
			if _, ok := nsOf(s, specs.NetworkNamespace); ok {
				t.Error("network namespace present for a host-network pod")
			}
			if _, ok := nsOf(s, specs.UTSNamespace); ok {
				t.Error("uts namespace present for a host-network pod")
			}
		}},
		{name: "pid POD", edit: func(in *Input) {
			in.Sandbox.PIDMode, in.Sandbox.PIDNS = "pod", "/run/cria/sandboxes/s/ns/pid"
			sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
		}, check: func(t *testing.T, s *specs.Spec) {
			if p, _ := nsOf(s, specs.PIDNamespace); p != "/run/cria/sandboxes/s/ns/pid" {
				t.Errorf("pid namespace = %q", p)
			}
		}},
		{name: "pid POD in a pod that does not share", edit: func(in *Input) { sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD },
			check: func(t *testing.T, s *specs.Spec) {
				if p, ok := nsOf(s, specs.PIDNamespace); !ok || p != "" {
					t.Errorf("pid namespace = %q (present %v), want a new one", p, ok)
				}
			}},
		{name: "pid POD in a host-PID pod", edit: func(in *Input) {
			in.Sandbox.PIDMode = "node"
			sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
		}, check: func(t *testing.T, s *specs.Spec) {
			if _, ok := nsOf(s, specs.PIDNamespace); ok {
				t.Error("pid namespace present, want the host's")
			}
		}},
		{name: "pid POD whose pause is gone", edit: func(in *Input) {
			in.Sandbox.PIDMode = "pod"
			sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
		}, wantErr: "pause process is gone"},
		{name: "pid NODE", edit: func(in *Input) { sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_NODE }, check: func(t *testing.T, s *specs.Spec) {
			if _, ok := nsOf(s, specs.PIDNamespace); ok {
				t.Error("pid namespace present for host PID")
			}
		}},
		{name: "pid TARGET", edit: func(in *Input) {
			in.TargetPIDNS = "/run/cria/containers/c/target-pid-ns"
			sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_TARGET
		}, check: func(t *testing.T, s *specs.Spec) {
			if p, _ := nsOf(s, specs.PIDNamespace); p != "/run/cria/containers/c/target-pid-ns" {
				t.Errorf("pid namespace = %q", p)
			}
		}},
		{name: "pid TARGET without a target", edit: func(in *Input) {
			sec(in).NamespaceOptions.Pid = runtimeapi.NamespaceMode_TARGET
		}, wantErr: "namespace_options.target_id"},
		{name: "pod files and shm", check: func(t *testing.T, s *specs.Spec) {
			for dst, src := range map[string]string{
				"/etc/hosts": "/run/cria/sandboxes/pod1/hosts", "/etc/resolv.conf": "/run/cria/sandboxes/pod1/resolv.conf",
				"/etc/hostname": "/run/cria/sandboxes/pod1/hostname", "/dev/shm": "/run/cria/sandboxes/pod1/shm",
			} {
				if m := mountAt(s, dst); m == nil || m.Source != src {
					t.Errorf("mount at %s = %+v, want from %s", dst, m, src)
				}
			}
		}},
		{name: "CRI mounts: ro, propagation, override", edit: func(in *Input) {
			in.Config.Mounts = []*runtimeapi.Mount{
				{ContainerPath: "/data", HostPath: "/srv/data", Readonly: true},
				{ContainerPath: "/slave", HostPath: "/mnt/a", Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER},
				{ContainerPath: "/shared", HostPath: "/mnt/b", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL},
				{ContainerPath: "/etc/hosts", HostPath: "/var/lib/kubelet/pods/x/etc-hosts"},
			}
		}, check: func(t *testing.T, s *specs.Spec) {
			for dst, want := range map[string][]string{
				"/data": {"rbind", "rprivate", "ro"}, "/slave": {"rbind", "rslave", "rw"}, "/shared": {"rbind", "rshared", "rw"},
			} {
				if m := mountAt(s, dst); m == nil || !reflect.DeepEqual(m.Options, want) {
					t.Errorf("mount %s = %+v, want options %v", dst, m, want)
				}
			}
			if m := mountAt(s, "/etc/hosts"); m == nil || m.Source != "/var/lib/kubelet/pods/x/etc-hosts" {
				t.Errorf("/etc/hosts = %+v, want the kubelet's", m)
			}
		}},
		{name: "relative host path", edit: func(in *Input) {
			in.Config.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "srv/data"}}
		}, wantErr: "config.mounts[0].host_path"},
		{name: "image VOLUMEs are no mounts", edit: func(in *Input) {
			in.Image.Volumes = map[string]struct{}{"/var/cache": {}, "/proc": {}, "/dev/shm": {}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if m := mountAt(s, "/var/cache"); m != nil {
				t.Errorf("image volume mounted: %+v; want it kept in the writable layer", m)
			}
			if m := mountAt(s, "/proc"); m == nil || m.Type != "proc" {
				t.Errorf("/proc = %+v, want procfs whatever the image declares", m)
			}
		}},
		{name: "devices", edit: func(in *Input) {
			in.Config.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rw"}, {ContainerPath: "/dev/xvda", HostPath: "/dev/loop0"}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if len(s.Linux.Devices) != 2 || s.Linux.Devices[1].Path != "/dev/xvda" || s.Linux.Devices[1].Type != "b" || *s.Linux.Devices[1].GID != 6 {
				t.Errorf("devices = %+v", s.Linux.Devices)
			}
			rules := s.Linux.Resources.Devices
			if len(rules) != 3 || rules[0].Allow || !rules[1].Allow || rules[1].Access != "rw" || *rules[1].Major != 10 || rules[2].Access != "rwm" {
				t.Errorf("device rules = %+v", rules)
			}
		}},
		{name: "unknown device", edit: func(in *Input) {
			in.Config.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/x", HostPath: "/dev/nope"}}
		}, wantErr: "config.devices[0]"},
		{name: "bad device permissions", edit: func(in *Input) {
			in.Config.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rwx"}}
		}, wantErr: "permissions"},
		{name: "resources, cgroup path and oom score", edit: func(in *Input) {
			in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{CpuShares: 256, MemoryLimitInBytes: 32 << 20, OomScoreAdj: 999}
		}, check: func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if r.CPU == nil || *r.CPU.Shares != 256 || r.Memory == nil || *r.Memory.Limit != 32<<20 || len(r.Devices) != 1 {
				t.Errorf("resources = %+v", r)
			}
			if s.Linux.CgroupsPath != "/kubepods/pod1/cria-c0ffee" {
				t.Errorf("cgroups path = %q", s.Linux.CgroupsPath)
			}
			if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 999 {
				t.Errorf("oom score adj = %v", s.Process.OOMScoreAdj)
			}
		}},
		{name: "seccomp runtime default", edit: func(in *Input) {
			sec(in).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) < 10 {
				t.Fatalf("seccomp = %+v", s.Linux.Seccomp)
			}
		}},
		{name: "seccomp unconfined", edit: func(in *Input) {
			sec(in).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Error("seccomp set for Unconfined")
			}
		}},
		{name: "seccomp localhost", edit: func(in *Input) {
			sec(in).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/var/lib/kubelet/seccomp/deny-chmod.json"}
			in.SeccompLocalhost = []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}`)
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || s.Linux.Seccomp.Syscalls[0].Names[0] != "chmod" {
				t.Errorf("seccomp = %+v", s.Linux.Seccomp)
			}
		}},
		{name: "seccomp localhost unreadable", edit: func(in *Input) {
			sec(in).Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/x.json"}
			in.SeccompLocalhost = []byte(`{not json`)
		}, wantErr: "config.linux.security_context.seccomp"},
		{name: "apparmor localhost without apparmor", edit: func(in *Input) {
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "localhost/k8s-deny"}
		}, wantErr: "AppArmor is not enabled", errKind: errdefs.ErrFailedPrecondition},
		{name: "apparmor localhost with apparmor", edit: func(in *Input) {
			in.AppArmorEnabled = true
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "localhost/k8s-deny"}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "k8s-deny" {
				t.Errorf("apparmor profile = %q", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor runtime default without apparmor is no profile", edit: func(in *Input) {
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "" {
				t.Errorf("apparmor profile = %q", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor unset on an AppArmor host is the default profile", edit: func(in *Input) {
			in.AppArmorEnabled, in.AppArmorDefault = true, "cria-default"
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "cria-default" {
				t.Errorf("apparmor profile = %q, want cria-default", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor runtime default on an AppArmor host", edit: func(in *Input) {
			in.AppArmorEnabled, in.AppArmorDefault = true, "cria-default"
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "cria-default" {
				t.Errorf("apparmor profile = %q, want cria-default", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor runtime default whose profile could not be loaded", edit: func(in *Input) {
			in.AppArmorEnabled, in.AppArmorDefaultErr = true, "apparmor_parser is not installed"
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		}, wantErr: "apparmor_parser is not installed", errKind: errdefs.ErrFailedPrecondition},
		{name: "apparmor unset whose default could not be loaded is no profile", edit: func(in *Input) {
			in.AppArmorEnabled, in.AppArmorDefaultErr = true, "apparmor_parser is not installed"
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "" {
				t.Errorf("apparmor profile = %q", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor unconfined on an AppArmor host", edit: func(in *Input) {
			in.AppArmorEnabled, in.AppArmorDefault = true, "cria-default"
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "" {
				t.Errorf("apparmor profile = %q", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor unset, privileged, on an AppArmor host", edit: func(in *Input) {
			in.AppArmorEnabled, in.AppArmorDefault = true, "cria-default"
			in.SandboxConfig = &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{Privileged: true}}}
			sec(in).Privileged = true
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "" {
				t.Errorf("apparmor profile = %q, want none for a privileged container", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor localhost, privileged", edit: func(in *Input) {
			in.AppArmorEnabled = true
			in.SandboxConfig = &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{Privileged: true}}}
			sec(in).Privileged = true
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "k8s-privileged"}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.ApparmorProfile != "k8s-privileged" {
				t.Errorf("apparmor profile = %q, want the one named", s.Process.ApparmorProfile)
			}
		}},
		{name: "apparmor localhost without a name", edit: func(in *Input) {
			in.AppArmorEnabled = true
			sec(in).Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "localhost/"}
		}, wantErr: "localhost_ref is empty"},
		{name: "selinux options on a host without SELinux are nothing to apply", edit: func(in *Input) {
			sec(in).SelinuxOptions = &runtimeapi.SELinuxOption{Level: "s0"}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.SelinuxLabel != "" || s.Linux.MountLabel != "" {
				t.Errorf("labels %q %q, want none", s.Process.SelinuxLabel, s.Linux.MountLabel)
			}
		}},
		{name: "selinux options on an SELinux host refused", edit: func(in *Input) {
			in.SELinuxEnabled = true
			sec(in).SelinuxOptions = &runtimeapi.SELinuxOption{Type: "spc_t"}
		}, wantErr: "security_context.selinux_options: cria does not apply SELinux labels", errKind: errdefs.ErrFailedPrecondition},
		{name: "empty selinux options are none", edit: func(in *Input) {
			in.SELinuxEnabled = true
			sec(in).SelinuxOptions = &runtimeapi.SELinuxOption{}
		}},
		{name: "selinux relabel on a host without SELinux is nothing to do", edit: func(in *Input) {
			in.Config.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/srv/data", SelinuxRelabel: true}}
		}, check: func(t *testing.T, s *specs.Spec) {
			if mountAt(s, "/data") == nil {
				t.Error("mount missing")
			}
		}},
		{name: "selinux relabel on an SELinux host refused", edit: func(in *Input) {
			in.SELinuxEnabled = true
			in.Config.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/srv/data", SelinuxRelabel: true}}
		}, wantErr: "config.mounts[0].selinux_relabel", errKind: errdefs.ErrFailedPrecondition},
		{name: "oom score below the floor is raised to it", edit: func(in *Input) {
			floor := 0
			in.OOMScoreAdjFloor = &floor
			in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{OomScoreAdj: -997}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 0 {
				t.Errorf("oom score adj = %v, want the floor 0", s.Process.OOMScoreAdj)
			}
		}},
		{name: "oom score above the floor is kept", edit: func(in *Input) {
			floor := 0
			in.OOMScoreAdjFloor = &floor
			in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{OomScoreAdj: 1000}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 1000 {
				t.Errorf("oom score adj = %v, want 1000", s.Process.OOMScoreAdj)
			}
		}},
		{name: "oom score without a floor", edit: func(in *Input) {
			in.Config.Linux.Resources = &runtimeapi.LinuxContainerResources{OomScoreAdj: -997}
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != -997 {
				t.Errorf("oom score adj = %v, want -997", s.Process.OOMScoreAdj)
			}
		}},
		{name: "no command at all", edit: func(in *Input) { in.Image.Entrypoint, in.Image.Cmd = nil, nil }, wantErr: "config.command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			if tc.edit != nil {
				tc.edit(&in)
			}
			s, err := Generate(in)
			if tc.wantErr != "" {
				kind := tc.errKind
				if kind == nil {
					kind = errdefs.ErrInvalidArgument
				}
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, kind) {
					t.Fatalf("Generate error = %v, want %v containing %q", err, kind, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		command, args, entrypoint, cmd, want []string
	}{
		{nil, nil, []string{"/e"}, []string{"c"}, []string{"/e", "c"}},
		{[]string{"/bin/sh"}, nil, []string{"/e"}, []string{"c"}, []string{"/bin/sh"}},
		{[]string{"/bin/sh"}, []string{"-c", "x"}, []string{"/e"}, []string{"c"}, []string{"/bin/sh", "-c", "x"}},
		{nil, []string{"a"}, []string{"/e"}, []string{"c"}, []string{"/e", "a"}},
		{nil, []string{"a"}, nil, []string{"c"}, []string{"a"}},
		{nil, nil, nil, []string{"c"}, []string{"c"}},
	} {
		got, err := Args(tc.command, tc.args, tc.entrypoint, tc.cmd)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Args(%v, %v, %v, %v) = %v, %v; want %v", tc.command, tc.args, tc.entrypoint, tc.cmd, got, err, tc.want)
		}
	}
}

func TestResolveUser(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\nnobody:x:65534:65534::/:/bin/false\ndefault-user:x:1000:1000::/home/d:/bin/sh\n")
	group := []byte("root:x:0:\nwww-data:x:33:\ngroup-defined-in-image:x:50000:default-user\nother:x:60000:nobody,default-user\n")
	i64 := func(v int64) *runtimeapi.Int64Value { return &runtimeapi.Int64Value{Value: v} }
	for _, tc := range []struct {
		name      string
		imageUser string
		sc        *runtimeapi.LinuxContainerSecurityContext
		pod       []int64
		want      User
		wantErr   string
	}{
		{name: "no user is root", want: User{Name: "root"}},
		{name: "image numeric user known", imageUser: "33", want: User{UID: 33, GID: 33, Name: "www-data"}},
		{name: "image numeric user unknown", imageUser: "1002", want: User{UID: 1002}},
		{name: "image user:group numeric", imageUser: "1003:1004", want: User{UID: 1003, GID: 1004}},
		{name: "image name:group", imageUser: "www-data:1004", want: User{UID: 33, GID: 1004, Name: "www-data"}},
		{name: "image user:named group", imageUser: "1003:www-data", want: User{UID: 1003, GID: 33}},
		{name: "unknown name", imageUser: "ghost", wantErr: `"ghost" is not in the image's /etc/passwd`},
		{name: "unknown group name", imageUser: "0:ghosts", wantErr: `"ghosts" is not in the image's /etc/group`},
		{name: "run_as_user overrides image", imageUser: "www-data", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(65534)},
			want: User{UID: 65534, GID: 65534, Name: "nobody", AdditionalGids: []uint32{60000}}},
		{name: "run_as_username", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "nobody"},
			want: User{UID: 65534, GID: 65534, Name: "nobody", AdditionalGids: []uint32{60000}}},
		{name: "run_as_group without a user", imageUser: "1002", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsGroup: i64(2000)},
			wantErr: "run_as_group is set without run_as_user or run_as_username"},
		{name: "run_as_group with run_as_username", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "www-data", RunAsGroup: i64(2000)},
			want: User{UID: 33, GID: 2000, Name: "www-data"}},
		{name: "run_as_group", sc: &runtimeapi.LinuxContainerSecurityContext{RunAsUser: i64(1002), RunAsGroup: i64(2000)}, want: User{UID: 1002, GID: 2000}},
		{name: "supplemental merge (critest predefined-group)", imageUser: "1000",
			sc:   &runtimeapi.LinuxContainerSecurityContext{SupplementalGroups: []int64{1234}},
			want: User{UID: 1000, GID: 1000, Name: "default-user", AdditionalGids: []uint32{1234, 50000, 60000}}},
		{name: "supplemental strict", imageUser: "1000",
			sc:   &runtimeapi.LinuxContainerSecurityContext{SupplementalGroups: []int64{1234}, SupplementalGroupsPolicy: runtimeapi.SupplementalGroupsPolicy_Strict},
			want: User{UID: 1000, GID: 1000, Name: "default-user", AdditionalGids: []uint32{1234}}},
		{name: "pod supplemental groups, primary not repeated", imageUser: "33", pod: []int64{33, 5}, want: User{UID: 33, GID: 33, Name: "www-data", AdditionalGids: []uint32{5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveUser(UserRequest{Security: tc.sc, ImageUser: tc.imageUser, Passwd: passwd, Group: group, PodSupplemental: tc.pod})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want InvalidArgument %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ResolveUser = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCapabilitiesFromMask(t *testing.T) {
	for _, tc := range []struct {
		mask uint64
		want []string
	}{
		{0, nil},
		{1, []string{"CAP_CHOWN"}},
		{1<<12 | 1<<21, []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}},
		{0xa80425fb, []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
			"CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}},
	} {
		if got := CapabilitiesFromMask(tc.mask); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CapabilitiesFromMask(%#x) = %v, want %v", tc.mask, got, tc.want)
		}
	}
	// The default set, as a mask, is what /proc shows for a default container.
	var mask uint64
	for i, c := range capabilities {
		if slices.Contains(spec.DefaultCapabilities(), c) {
			mask |= 1 << uint(i)
		}
	}
	if mask != 0xa80425fb {
		t.Errorf("default capability mask = %#x, want 0xa80425fb", mask)
	}
}

func TestRootfsPropagation(t *testing.T) {
	m := func(p runtimeapi.MountPropagation) *runtimeapi.Mount {
		return &runtimeapi.Mount{ContainerPath: "/m", HostPath: "/h", Propagation: p}
	}
	for _, tc := range []struct {
		name   string
		mounts []*runtimeapi.Mount
		want   string
	}{
		{"no mounts", nil, ""},
		{"private only", []*runtimeapi.Mount{m(runtimeapi.MountPropagation_PROPAGATION_PRIVATE)}, ""},
		{"host to container", []*runtimeapi.Mount{m(runtimeapi.MountPropagation_PROPAGATION_PRIVATE), m(runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER)}, "rslave"},
		{"bidirectional wins", []*runtimeapi.Mount{m(runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER), m(runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL)}, "rshared"},
	} {
		if got := rootfsPropagation(tc.mounts); got != tc.want {
			t.Errorf("%s: rootfsPropagation = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRecursiveReadOnlyMounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mount   *runtimeapi.Mount
		want    []string
		wantErr string
	}{
		{"read-only", &runtimeapi.Mount{ContainerPath: "/m", HostPath: "/h", Readonly: true}, []string{"rbind", "rprivate", "ro"}, ""},
		{"recursive read-only", &runtimeapi.Mount{ContainerPath: "/m", HostPath: "/h", Readonly: true, RecursiveReadOnly: true}, []string{"rbind", "rprivate", "ro", "rro"}, ""},
		{"recursive but writable", &runtimeapi.Mount{ContainerPath: "/m", HostPath: "/h", RecursiveReadOnly: true}, nil, "recursive_read_only needs readonly"},
		{"recursive and shared", &runtimeapi.Mount{ContainerPath: "/m", HostPath: "/h", Readonly: true, RecursiveReadOnly: true,
			Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}, nil, "needs private propagation"},
		{"recursive and slave", &runtimeapi.Mount{ContainerPath: "/m", HostPath: "/h", Readonly: true, RecursiveReadOnly: true,
			Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}, nil, "needs private propagation"},
	} {
		mounts, err := Mounts(Input{Config: &runtimeapi.ContainerConfig{Mounts: []*runtimeapi.Mount{tc.mount}}})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(mounts) != 1 || !reflect.DeepEqual(mounts[0].Options, tc.want) {
			t.Errorf("%s: mounts %+v (%v), want options %v", tc.name, mounts, err, tc.want)
		}
	}
}
