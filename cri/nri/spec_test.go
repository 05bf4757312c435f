package nri

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// baseSpec is a spec as cria writes one, cut down.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"sh"}, Env: []string{"PATH=/bin", "KEEP=1"}},
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, {Destination: "/data", Type: "bind", Source: "/old"}},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/run/ns/net"}},
			Resources:  &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(512))}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func TestAdjust(t *testing.T) {
	for _, tc := range []struct {
		name    string
		adjust  func(a *api.ContainerAdjustment)
		opts    SpecOptions
		check   func(t *testing.T, s *specs.Spec)
		wantErr string
	}{
		{name: "env, args, annotations", adjust: func(a *api.ContainerAdjustment) {
			a.AddEnv("NEW", "yes")
			a.AddEnv("PATH", "/usr/bin")
			a.RemoveEnv("KEEP")
			a.SetArgs([]string{"sleep", "1"})
			a.AddAnnotation("nri/a", "b")
		}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Env, []string{"PATH=/usr/bin", "NEW=yes"}) {
				t.Errorf("env %v", s.Process.Env)
			}
			if !slices.Equal(s.Process.Args, []string{"sleep", "1"}) || s.Annotations["nri/a"] != "b" {
				t.Errorf("args %v, annotations %v", s.Process.Args, s.Annotations)
			}
		}},
		{name: "mounts replace by destination and are sorted", adjust: func(a *api.ContainerAdjustment) {
			a.AddMount(&api.Mount{Destination: "/data", Type: "bind", Source: "/new", Options: []string{"rbind", "ro"}})
			a.AddMount(&api.Mount{Destination: "/data/sub", Type: "bind", Source: "/sub", Options: []string{"rbind"}})
		}, check: func(t *testing.T, s *specs.Spec) {
			var got []string
			for _, m := range s.Mounts {
				got = append(got, m.Destination+"="+m.Source)
			}
			// A parent before what is mounted below it.
			data, sub := slices.Index(got, "/data=/new"), slices.Index(got, "/data/sub=/sub")
			if len(got) != 3 || !slices.Contains(got, "/proc=proc") || data < 0 || sub < data {
				t.Errorf("mounts %v", got)
			}
		}},
		{name: "device node and its cgroup rule", adjust: func(a *api.ContainerAdjustment) {
			a.AddDevice(&api.LinuxDevice{Path: "/dev/x", Type: "c", Major: 1, Minor: 3, FileMode: api.FileMode(0o666)})
		}, check: func(t *testing.T, s *specs.Spec) {
			if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/x" || s.Linux.Devices[0].Major != 1 {
				t.Errorf("devices %+v", s.Linux.Devices)
			}
			r := s.Linux.Resources.Devices
			if len(r) != 1 || !r[0].Allow || *r[0].Major != 1 || *r[0].Minor != 3 || r[0].Access != "rw" {
				t.Errorf("device rules %+v", r)
			}
		}},
		{name: "resources", adjust: func(a *api.ContainerAdjustment) {
			a.SetLinuxCPUQuota(25000)
			a.SetLinuxCPUPeriod(100000)
			a.SetLinuxCPUSetCPUs("0")
			a.SetLinuxMemoryLimit(64 << 20)
			a.SetLinuxMemoryReservation(32 << 20)
			a.SetLinuxPidLimits(100)
		}, check: func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.CPU.Quota != 25000 || *r.CPU.Period != 100000 || r.CPU.Cpus != "0" || *r.CPU.Shares != 512 {
				t.Errorf("cpu %+v", r.CPU)
			}
			if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 64<<20 || *r.Memory.Reservation != 32<<20 {
				t.Errorf("memory %+v", r.Memory)
			}
			if r.Pids == nil || *r.Pids.Limit != 100 {
				t.Errorf("pids %+v", r.Pids)
			}
		}},
		{name: "rlimits, oom score, I/O priority, scheduler", adjust: func(a *api.ContainerAdjustment) {
			a.AddRlimit("RLIMIT_NOFILE", 1000, 500)
			a.SetLinuxOomScoreAdj(ptr(500))
			a.SetLinuxIOPriority(&api.LinuxIOPriority{Class: api.IOPrioClass_IOPRIO_CLASS_BE, Priority: 4})
			a.SetLinuxScheduler(&api.LinuxScheduler{Policy: api.LinuxSchedulerPolicy_SCHED_BATCH})
		}, check: func(t *testing.T, s *specs.Spec) {
			p := s.Process
			if len(p.Rlimits) != 1 || p.Rlimits[0] != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1000, Soft: 500}) {
				t.Errorf("rlimits %+v", p.Rlimits)
			}
			if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 500 || p.IOPriority == nil || p.IOPriority.Priority != 4 || p.Scheduler == nil || p.Scheduler.Policy != specs.SchedBatch {
				t.Errorf("process %+v", p)
			}
		}},
		{name: "hooks, namespaces, sysctls, cgroups path", adjust: func(a *api.ContainerAdjustment) {
			a.AddHooks(&api.Hooks{Prestart: []*api.Hook{{Path: "/bin/true"}}, Poststop: []*api.Hook{{Path: "/bin/false"}}})
			a.AddOrReplaceNamespace(&api.LinuxNamespace{Type: "network", Path: "/run/ns/other"})
			a.AddOrReplaceNamespace(&api.LinuxNamespace{Type: "cgroup"})
			a.RemoveNamespace(&api.LinuxNamespace{Type: "pid"})
			a.SetLinuxSysctl("net.ipv4.ip_forward", "1")
			a.SetLinuxCgroupsPath("/nri/x")
		}, check: func(t *testing.T, s *specs.Spec) {
			if s.Hooks == nil || len(s.Hooks.Prestart) != 1 || len(s.Hooks.Poststop) != 1 {
				t.Errorf("hooks %+v", s.Hooks)
			}
			want := []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/run/ns/other"}, {Type: specs.CgroupNamespace}}
			if !slices.Equal(s.Linux.Namespaces, want) {
				t.Errorf("namespaces %+v, want %+v", s.Linux.Namespaces, want)
			}
			if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" || s.Linux.CgroupsPath != "/nri/x" {
				t.Errorf("sysctl %v, cgroups path %q", s.Linux.Sysctl, s.Linux.CgroupsPath)
			}
		}},
		{name: "CDI devices through cria's injector", adjust: func(a *api.ContainerAdjustment) {
			a.AddCDIDevice(&api.CDIDevice{Name: "vendor.com/dev=one"})
		}, opts: SpecOptions{InjectCDI: func(s *specs.Spec, names []string) error {
			s.Process.Env = append(s.Process.Env, "CDI="+strings.Join(names, ","))
			return nil
		}}, check: func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(s.Process.Env, "CDI=vendor.com/dev=one") {
				t.Errorf("env %v", s.Process.Env)
			}
		}},
		{name: "resources the node refuses", adjust: func(a *api.ContainerAdjustment) {
			a.SetLinuxMemoryLimit(64 << 20)
		}, opts: SpecOptions{CheckResources: func(*specs.LinuxResources) error { return errors.New("not on this node") }}, wantErr: "not on this node"},
		{name: "block I/O class", adjust: func(a *api.ContainerAdjustment) { a.SetLinuxBlockIOClass("slow") }, wantErr: `block I/O class "slow"`},
		{name: "RDT class", adjust: func(a *api.ContainerAdjustment) { a.SetLinuxRDTClass("gold") }, wantErr: `RDT class "gold"`},
		{name: "network devices", adjust: func(a *api.ContainerAdjustment) {
			a.AddLinuxNetDevice("eth9", &api.LinuxNetDevice{Name: "eth1"})
		}, wantErr: "network devices"},
		{name: "kernel memory", adjust: func(a *api.ContainerAdjustment) { a.SetLinuxMemoryKernel(1 << 20) }, wantErr: "kernel memory"},
		{name: "use_hierarchy", adjust: func(a *api.ContainerAdjustment) { a.SetLinuxMemoryUseHierarchy() }, wantErr: "use_hierarchy"},
		{name: "unknown namespace", adjust: func(a *api.ContainerAdjustment) {
			a.AddOrReplaceNamespace(&api.LinuxNamespace{Type: "bogus"})
		}, wantErr: `unknown namespace type "bogus"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &api.ContainerAdjustment{}
			tc.adjust(a)
			s := baseSpec()
			err := adjust(s, a, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("adjust: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}
