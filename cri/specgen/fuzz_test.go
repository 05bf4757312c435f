package specgen

import (
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FuzzGenerate feeds Generate container and pod configs decoded from
// arbitrary bytes (the CRI's wire format): it must answer with a spec or an
// error, never panic, whatever a client sends. The seeds run in make test.
func FuzzGenerate(f *testing.F) {
	for _, seed := range []struct {
		c  *runtimeapi.ContainerConfig
		sb *runtimeapi.PodSandboxConfig
	}{
		{baseInput().Config, &runtimeapi.PodSandboxConfig{}},
		{&runtimeapi.ContainerConfig{
			Command: []string{"sh"}, Envs: []*runtimeapi.KeyValue{{Key: "A", Value: []byte("b")}},
			Mounts:  []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/srv", Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}},
			Devices: []*runtimeapi.Device{{ContainerPath: "/dev/x", HostPath: "/dev/null", Permissions: "rwm"}},
			Linux: &runtimeapi.LinuxContainerConfig{
				Resources: &runtimeapi.LinuxContainerResources{CpuQuota: 50000, CpuPeriod: 100000, MemoryLimitInBytes: 1 << 30, HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 1 << 21}}, Unified: map[string]string{"memory.high": "1"}},
				SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
					Capabilities:     &runtimeapi.Capability{AddCapabilities: []string{"ALL"}, DropCapabilities: []string{"SYS_ADMIN"}},
					NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: "x"},
					Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
					Apparmor:         &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "localhost/p"},
					RunAsUser:        &runtimeapi.Int64Value{Value: 1000}, MaskedPaths: []string{"/proc/x"},
				},
			},
		}, &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}}},
	} {
		c, _ := proto.Marshal(seed.c)
		sb, _ := proto.Marshal(seed.sb)
		f.Add(c, sb, true)
	}
	f.Fuzz(func(t *testing.T, container, sandbox []byte, apparmor bool) {
		in := baseInput()
		c, sb := &runtimeapi.ContainerConfig{}, &runtimeapi.PodSandboxConfig{}
		if proto.Unmarshal(container, c) != nil || proto.Unmarshal(sandbox, sb) != nil {
			return
		}
		in.Config, in.SandboxConfig = c, sb
		in.AppArmorEnabled, in.AppArmorDefault = apparmor, "cria-default"
		s, err := Generate(in)
		if err == nil && (s == nil || s.Process == nil || s.Linux == nil || len(s.Process.Args) == 0) {
			t.Fatalf("Generate succeeded with an unusable spec: %+v", s)
		}
	})
}

// FuzzResolveUser: any image account files and any identity request give
// an identity or an error, never a panic.
func FuzzResolveUser(f *testing.F) {
	f.Add("root:x:0:0::/:/bin/sh\nweb:x:33:33::/:/bin/false\n", "root:x:0:\nweb:x:33:web,other\n", "web:web", int64(-1), "")
	f.Add("::::\n:x:-1:-1\n", "a:b:c:d:e\n", "4294967296", int64(4294967296), "nobody")
	f.Fuzz(func(t *testing.T, passwd, group, imageUser string, uid int64, username string) {
		sc := &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: username}
		if uid >= 0 {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: uid}
		}
		_, _ = ResolveUser(UserRequest{Security: sc, ImageUser: imageUser, Passwd: []byte(passwd), Group: []byte(group)})
	})
}
