package cri

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// testNode is a node with 4 CPUs, one memory node and cgroup v2.
var testNode = node{cpus: 4, mems: 1, cgroupV2: true}

func goodContainer() *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
		Image:    &runtimeapi.ImageSpec{Image: "registry.k8s.io/pause:3.10"},
		Command:  []string{"sh", "-c", "sleep 1"},
		Envs:     []*runtimeapi.KeyValue{{Key: "A", Value: []byte("1")}, {Key: "data-1", Value: []byte("x")}},
		LogPath:  "app/0.log",
		Mounts:   []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/srv/data"}},
		Devices:  []*runtimeapi.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rwm"}},
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000,
				MemoryLimitInBytes: 64 << 20, MemorySwapLimitInBytes: 64 << 20, OomScoreAdj: -997, CpusetCpus: "0-1,3", CpusetMems: "0",
				HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 0}, {PageSize: "1GB", Limit: 0}},
				Unified:        map[string]string{"memory.high": "100000000", "pids.max": "max"}},
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				RunAsUser: &runtimeapi.Int64Value{Value: 1000}, RunAsGroup: &runtimeapi.Int64Value{Value: 3000},
				SupplementalGroups: []int64{4000}, MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"},
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
}

func TestValidateContainerConfig(t *testing.T) {
	res := func(edit func(*runtimeapi.LinuxContainerResources)) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) { edit(c.Linux.Resources) }
	}
	sec := func(edit func(*runtimeapi.LinuxContainerSecurityContext)) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) { edit(c.Linux.SecurityContext) }
	}
	for _, tc := range []struct {
		name    string
		edit    func(*runtimeapi.ContainerConfig)
		wantErr string // "" for none
		kind    error  // errdefs class, InvalidArgument if nil
	}{
		{name: "good", edit: func(*runtimeapi.ContainerConfig) {}},
		{name: "image id", edit: func(c *runtimeapi.ContainerConfig) { c.Image.Image = "sha256:" + strings.Repeat("ab", 32) }},
		{name: "quota -1", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuQuota = -1 })},
		{name: "swap -1", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.MemorySwapLimitInBytes = -1 })},
		{name: "no config", edit: nil, wantErr: "config is required"},
		{name: "no metadata", edit: func(c *runtimeapi.ContainerConfig) { c.Metadata = nil }, wantErr: "config.metadata is required"},
		{name: "name ..", edit: func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = ".." }, wantErr: "config.metadata.name"},
		{name: "name with slash", edit: func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "a/b" }, wantErr: "config.metadata.name"},
		{name: "name with escape", edit: func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "a\x1b" }, wantErr: "config.metadata.name"},
		{name: "no image", edit: func(c *runtimeapi.ContainerConfig) { c.Image = nil }, wantErr: "config.image.image is required"},
		{name: "bad image", edit: func(c *runtimeapi.ContainerConfig) { c.Image.Image = "A::b" }, wantErr: "config.image.image"},
		{name: "image port", edit: func(c *runtimeapi.ContainerConfig) { c.Image.Image = "localhost:70000/x" }, wantErr: "port 70000"},
		{name: "absolute log path", edit: func(c *runtimeapi.ContainerConfig) { c.LogPath = "/etc/x" }, wantErr: "config.log_path"},
		{name: "log path out", edit: func(c *runtimeapi.ContainerConfig) { c.LogPath = "a/../../x" }, wantErr: "config.log_path"},
		{name: "log path NUL", edit: func(c *runtimeapi.ContainerConfig) { c.LogPath = "a\x00" }, wantErr: "NUL"},
		{name: "arg NUL", edit: func(c *runtimeapi.ContainerConfig) { c.Args = []string{"a\x00"} }, wantErr: "config.command[3]"},
		{name: "arg too long", edit: func(c *runtimeapi.ContainerConfig) { c.Args = []string{strings.Repeat("a", maxArgLen+1)} }, wantErr: "more than the kernel passes"},
		{name: "args too big", edit: func(c *runtimeapi.ContainerConfig) {
			for range 20 {
				c.Args = append(c.Args, strings.Repeat("a", maxArgLen))
			}
		}, wantErr: "more than the kernel passes to a program"},
		{name: "env key with =", edit: func(c *runtimeapi.ContainerConfig) { c.Envs[0].Key = "A=B" }, wantErr: "config.envs[0]"},
		{name: "env value NUL", edit: func(c *runtimeapi.ContainerConfig) { c.Envs[1].Value = []byte{'a', 0} }, wantErr: "config.envs[1].value"},
		{name: "relative workdir", edit: func(c *runtimeapi.ContainerConfig) { c.WorkingDir = "tmp" }, wantErr: "config.working_dir"},
		{name: "many labels", edit: func(c *runtimeapi.ContainerConfig) {
			c.Labels = map[string]string{}
			for i := range maxKeyValues + 1 {
				c.Labels[strings.Repeat("k", 8)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = ""
			}
		}, wantErr: "config.labels has"},
		{name: "big annotation", edit: func(c *runtimeapi.ContainerConfig) {
			c.Annotations = map[string]string{"a": strings.Repeat("v", maxKeyValueBytes)}
		}, wantErr: "config.annotations holds"},
		{name: "unknown stop signal", edit: func(c *runtimeapi.ContainerConfig) { c.StopSignal = 99 }, wantErr: "config.stop_signal"},
		{name: "mount at /", edit: func(c *runtimeapi.ContainerConfig) { c.Mounts[0].ContainerPath = "/" }, wantErr: "config.mounts[0].container_path"},
		{name: "mount with ..", edit: func(c *runtimeapi.ContainerConfig) { c.Mounts[0].ContainerPath = "/a/../b" }, wantErr: "without '..'"},
		{name: "mount relative", edit: func(c *runtimeapi.ContainerConfig) { c.Mounts[0].HostPath = "srv" }, wantErr: "config.mounts[0].host_path"},
		{name: "mount twice", edit: func(c *runtimeapi.ContainerConfig) {
			c.Mounts = append(c.Mounts, &runtimeapi.Mount{ContainerPath: "/data/", HostPath: "/x"})
		}, wantErr: "config.mounts[0]'s too"},
		{name: "mount propagation", edit: func(c *runtimeapi.ContainerConfig) { c.Mounts[0].Propagation = 9 }, wantErr: "propagation"},
		{name: "idmapped mount, host user namespace", edit: func(c *runtimeapi.ContainerConfig) {
			c.Mounts[0].UidMappings = []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 1000, Length: 1}}
		}, wantErr: "an idmapped mount needs a pod with a user namespace"},
		{name: "device perms", edit: func(c *runtimeapi.ContainerConfig) { c.Devices[0].Permissions = "rx" }, wantErr: "config.devices[0].permissions"},
		{name: "device relative", edit: func(c *runtimeapi.ContainerConfig) { c.Devices[0].ContainerPath = "fuse" }, wantErr: "config.devices[0].container_path"},
		{name: "CDI name", edit: func(c *runtimeapi.ContainerConfig) { c.CDIDevices = []*runtimeapi.CDIDevice{{Name: "gpu0"}} }, wantErr: "config.cdi_devices[0]"},
		{name: "negative shares", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuShares = -2 }), wantErr: "cpu_shares"},
		{name: "huge shares", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuShares = 262145 }), wantErr: "cpu_shares"},
		{name: "short period", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuPeriod = 999 }), wantErr: "cpu_period"},
		{name: "long period", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuPeriod = 1000001 }), wantErr: "cpu_period"},
		{name: "small quota", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuQuota = 999 }), wantErr: "cpu_quota"},
		{name: "quota -2", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpuQuota = -2 }), wantErr: "cpu_quota"},
		{name: "tiny memory", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.MemoryLimitInBytes = 1 << 20 }), wantErr: "memory_limit_in_bytes"},
		{name: "swap below memory", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.MemorySwapLimitInBytes = 32 << 20 }), wantErr: "below memory_limit_in_bytes"},
		{name: "oom 1001", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.OomScoreAdj = 1001 }), wantErr: "oom_score_adj"},
		{name: "cpuset text", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpusetCpus = "all" }), wantErr: "cpuset_cpus"},
		{name: "cpuset backwards", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpusetCpus = "3-1" }), wantErr: "runs backwards"},
		{name: "cpuset open", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpusetCpus = "1-" }), wantErr: "cpuset_cpus"},
		{name: "cpuset beyond", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpusetCpus = "4" }), wantErr: "this node has 4"},
		{name: "memset beyond", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.CpusetMems = "0-1" }), wantErr: "cpuset_mems"},
		{name: "page size 3MB", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.HugepageLimits[0].PageSize = "3MB" }), wantErr: "page_size"},
		{name: "page size path", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.HugepageLimits[0].PageSize = "../2MB" }), wantErr: "page_size"},
		{name: "unified procs", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.Unified["cgroup.procs"] = "1" }), wantErr: "not a controller's file"},
		{name: "unified path", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.Unified["memory/../x"] = "1" }), wantErr: "not a controller's file"},
		{name: "unified newline", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.Unified["memory.high"] = "1\n2" }), wantErr: "one line"},
		{name: "pids negative", edit: res(func(r *runtimeapi.LinuxContainerResources) { r.Unified["pids.max"] = "-1" }), wantErr: "pids.max"},
		{name: "group without user", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) { s.RunAsUser = nil }), wantErr: "run_as_group is set without"},
		{name: "user and name", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) { s.RunAsUsername = "root" }), wantErr: "exclusive"},
		{name: "negative user", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) { s.RunAsUser.Value = -1 }), wantErr: "run_as_user"},
		{name: "uid -1 as u32", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) { s.RunAsUser.Value = 1<<32 - 1 }), wantErr: "run_as_user"},
		{name: "too many groups", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) { s.SupplementalGroups = make([]int64, maxGroups+1) }), wantErr: "supplemental_groups"},
		{name: "relative masked path", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) { s.MaskedPaths = []string{"proc"} }), wantErr: "masked_paths[0]"},
		{name: "seccomp type", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.Seccomp = &runtimeapi.SecurityProfile{ProfileType: 7}
		}), wantErr: "seccomp.profile_type"},
		{name: "seccomp missing", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/no/such/profile.json"}
		}), wantErr: "seccomp.localhost_ref"},
		{name: "seccomp directory", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/"}
		}), wantErr: "not a regular file"},
		{name: "host network in a pod's", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
		}), wantErr: "namespace_options.network"},
		{name: "network of a target", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.NamespaceOptions.Network = runtimeapi.NamespaceMode_TARGET
		}), wantErr: "namespace_options.network"},
		{name: "target without id", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.NamespaceOptions.Pid = runtimeapi.NamespaceMode_TARGET
		}), wantErr: "target_id is required"},
		{name: "user namespace in a pod without", edit: sec(func(s *runtimeapi.LinuxContainerSecurityContext) {
			s.NamespaceOptions.UsernsOptions = podUserns(100000)
		}), wantErr: "differs from the pod's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *runtimeapi.ContainerConfig
			if tc.edit != nil {
				c = goodContainer()
				tc.edit(c)
			}
			err := validateContainerConfig(c, &runtimeapi.NamespaceOption{}, testNode)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			kind := tc.kind
			if kind == nil {
				kind = errdefs.ErrInvalidArgument
			}
			if !errors.Is(err, kind) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %v containing %q", err, kind, tc.wantErr)
			}
		})
	}
}

func podUserns(host uint32) *runtimeapi.UserNamespace {
	m := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: host, Length: 65536}}
	return &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
}

// TestUserNamespaceOptions: the options a pod may give, as the kubelet
// sends them, and what is refused, naming the field.
func TestUserNamespaceOptions(t *testing.T) {
	m := func(c, h, l uint32) []*runtimeapi.IDMapping {
		return []*runtimeapi.IDMapping{{ContainerId: c, HostId: h, Length: l}}
	}
	ok := m(0, 100000, 65536)
	for _, tc := range []struct {
		name    string
		u       *runtimeapi.UserNamespace
		wantErr string
	}{
		{"none", nil, ""},
		{"host", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}, ""},
		{"pod", podUserns(100000), ""},
		{"pod, one ID", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 5, 1), Gids: m(0, 5, 1)}, ""},
		{"host with mappings", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE, Gids: ok}, "u: the host's user namespace (NODE) takes no mappings"},
		{"pod without mappings", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD}, "u.uids: a pod's user namespace takes exactly one mapping, not 0"},
		{"pod without GIDs", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: ok}, "u.gids: a pod's user namespace takes exactly one mapping, not 0"},
		{"two UID mappings", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: append(m(0, 100000, 1), m(1, 200000, 1)...), Gids: ok}, "exactly one mapping, not 2"},
		{"root unmapped", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(1, 100000, 10), Gids: ok}, "u.uids[0]: container ID 0 (root) must be mapped"},
		{"zero length", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: ok, Gids: m(0, 100000, 0)}, "u.gids[0].length is 0"},
		{"host overflow", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 1<<32-10, 11), Gids: ok}, "runs past the last ID"},
		{"host overflow exactly", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 1<<32-10, 10), Gids: ok}, ""},
		{"onto host root", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 0, 65536), Gids: ok}, "maps onto the host's root"},
		{"container mode", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}, "u.mode CONTAINER is not allowed"},
		{"target mode", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_TARGET}, "u.mode TARGET is not allowed"},
	} {
		err := checkUserns("u", tc.u)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %v, want InvalidArgument containing %q", tc.name, err, tc.wantErr)
		}
	}

	// Several mappings (an idmapped mount's): neither side may overlap.
	for _, tc := range []struct {
		name    string
		list    []*runtimeapi.IDMapping
		wantErr string
	}{
		{"apart", append(m(0, 1000, 10), m(10, 2000, 10)...), ""},
		{"touching", append(m(0, 1000, 10), m(10, 1010, 10)...), ""},
		{"container IDs overlap", append(m(0, 1000, 10), m(9, 2000, 10)...), "l[1] overlaps l[0]"},
		{"host IDs overlap", append(m(0, 1000, 10), m(10, 1005, 10)...), "l[1] overlaps l[0]"},
	} {
		err := checkIDMapList("l", tc.list)
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}

	// A container in a pod with a user namespace: the pod's options (or
	// none), mounts idmapped or not, never the host's PID namespace.
	pod := &runtimeapi.NamespaceOption{UsernsOptions: podUserns(100000)}
	for _, tc := range []struct {
		name    string
		edit    func(*runtimeapi.ContainerConfig)
		wantErr string
	}{
		{"the pod's", func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = podUserns(100000)
		}, ""},
		{"left out", func(c *runtimeapi.ContainerConfig) {}, ""},
		{"another range", func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = podUserns(200000)
		}, "differs from the pod's"},
		{"the host's", func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}
		}, "differs from the pod's"},
		{"idmapped mount", func(c *runtimeapi.ContainerConfig) {
			c.Mounts[0].UidMappings, c.Mounts[0].GidMappings = ok, ok
		}, ""},
		{"idmapped mount, UIDs only", func(c *runtimeapi.ContainerConfig) { c.Mounts[0].UidMappings = ok }, "config.mounts[0]: an idmapped mount needs both"},
		{"idmapped mount, bad", func(c *runtimeapi.ContainerConfig) {
			c.Mounts[0].UidMappings, c.Mounts[0].GidMappings = ok, m(0, 1, 0)
		}, "config.mounts[0].gid_mappings[0].length is 0"},
		{"host PID", func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_NODE
		}, "pid is NODE, but the pod has a user namespace"},
	} {
		c := goodContainer()
		tc.edit(c)
		err := validateContainerConfig(c, pod, testNode)
		if (tc.wantErr == "") != (err == nil) || (err != nil && (!errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr))) {
			t.Errorf("container, %s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestUnifiedOnCgroupV1: well-formed unified settings are a valid request
// that a cgroup v1 node cannot serve; malformed ones are refused first.
func TestUnifiedOnCgroupV1(t *testing.T) {
	v1 := node{cpus: 4, mems: 1}
	if err := checkUnified("u", map[string]string{"memory.high": "1"}, false); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("well-formed on v1: %v, want FailedPrecondition", err)
	}
	if err := checkUnified("u", map[string]string{"../x": "1"}, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("malformed on v1: %v, want InvalidArgument", err)
	}
	if err := checkResources("r", &runtimeapi.LinuxContainerResources{CpuShares: 2}, v1); err != nil {
		t.Errorf("no unified on v1: %v", err)
	}
}

func TestListMax(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"0-3", 3, true}, {"0,2,4-7", 7, true}, {"1-1", 1, true},
		{"", 0, false}, {"-1", 0, false}, {"0-", 0, false}, {"a", 0, false}, {"2-1", 0, false},
		{"0,,1", 0, false}, {"0 ", 0, false}, {"9999999", 0, false},
	} {
		got, err := listMax(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("listMax(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestValidPageSize(t *testing.T) {
	for in, want := range map[string]bool{"2MB": true, "1GB": true, "64KB": true, "16GB": true,
		"3MB": false, "2mb": false, "2M": false, "0MB": false, "../2MB": false, "": false} {
		if got := validPageSize(in); got != want {
			t.Errorf("validPageSize(%q) = %v", in, got)
		}
	}
}

// FuzzValidateContainerConfig: any container config decoded from the wire
// is accepted or refused with InvalidArgument or FailedPrecondition, never
// a panic; an accepted one has no NUL in what reaches the kernel.
func FuzzValidateContainerConfig(f *testing.F) {
	for _, c := range []*runtimeapi.ContainerConfig{goodContainer(), {}, {Metadata: &runtimeapi.ContainerMetadata{Name: "x"}}} {
		b, _ := proto.Marshal(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &runtimeapi.ContainerConfig{}
		if proto.Unmarshal(b, c) != nil {
			return
		}
		err := validateContainerConfig(c, &runtimeapi.NamespaceOption{}, testNode)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrFailedPrecondition) {
				t.Fatalf("refused without a class: %v", err)
			}
			return
		}
		for _, s := range append(append(c.Command, c.Args...), c.WorkingDir, c.LogPath) {
			if strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("accepted a NUL in %q", s)
			}
		}
	})
}
