package cgroups

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func u64(v uint64) *uint64 { return &v }
func i64(v int64) *int64   { return &v }

func TestToOCI(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *runtimeapi.LinuxContainerResources
		want *specs.LinuxResources
	}{
		{"nil", nil, nil},
		{"empty sets nothing", &runtimeapi.LinuxContainerResources{}, &specs.LinuxResources{}},
		{"cpu", &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000, CpusetCpus: "0-1", CpusetMems: "0"},
			&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0-1", Mems: "0"}}},
		{"memory and swap", &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, MemorySwapLimitInBytes: 128 << 20},
			&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20)}}},
		{"swap without limit ignored", &runtimeapi.LinuxContainerResources{MemorySwapLimitInBytes: 1 << 20}, &specs.LinuxResources{}},
		{"hugepages and unified", &runtimeapi.LinuxContainerResources{
			HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 4 << 20}},
			Unified:        map[string]string{"memory.high": "1000000"},
		}, &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}, Unified: map[string]string{"memory.high": "1000000"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ToOCI(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ToOCI = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestContainerPath(t *testing.T) {
	for _, tc := range []struct {
		d            Driver
		parent, want string
	}{
		{Cgroupfs, "/kubepods/besteffort/pod1", "/kubepods/besteffort/pod1/cria-abc"},
		{Cgroupfs, "", "/cria-abc"},
		{Systemd, "kubepods-besteffort-pod1.slice", "kubepods-besteffort-pod1.slice:cria:abc"},
		{Systemd, "", "system.slice:cria:abc"},
	} {
		if got := ContainerPath(tc.d, tc.parent, "abc"); got != tc.want {
			t.Errorf("ContainerPath(%s, %q) = %q, want %q", tc.d, tc.parent, got, tc.want)
		}
	}
}

func TestValidateParent(t *testing.T) {
	for _, tc := range []struct {
		d      Driver
		parent string
		ok     bool
	}{
		{Cgroupfs, "", true},
		{Cgroupfs, "/kubepods/pod1", true},
		{Cgroupfs, "kubepods", false},
		{Cgroupfs, "/kubepods/../../etc", false},
		{Systemd, "kubepods.slice", true},
		{Systemd, "/kubepods", false},
	} {
		if err := ValidateParent(tc.d, tc.parent); (err == nil) != tc.ok {
			t.Errorf("ValidateParent(%s, %q) = %v, want ok=%v", tc.d, tc.parent, err, tc.ok)
		}
	}
}

func TestDropUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hugetlb bool
		want    int
	}{{"with hugetlb", true, 1}, {"without hugetlb", false, 0}} {
		res := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}}}
		dropUnavailable(res, tc.hugetlb)
		if len(res.HugepageLimits) != tc.want {
			t.Errorf("%s: %d hugepage limits left, want %d", tc.name, len(res.HugepageLimits), tc.want)
		}
	}
	dropUnavailable(nil, false) // no resources: nothing to do
}
