package cgroups

import (
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ToOCI turns CRI container resources into OCI cgroup resources. Zero CRI
// values mean "not set" and set nothing. r may be nil.
func ToOCI(r *runtimeapi.LinuxContainerResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	out := &specs.LinuxResources{}
	cpu := &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
	if r.CpuShares > 0 {
		v := uint64(r.CpuShares)
		cpu.Shares = &v
	}
	if r.CpuQuota != 0 {
		v := r.CpuQuota
		cpu.Quota = &v
	}
	if r.CpuPeriod > 0 {
		v := uint64(r.CpuPeriod)
		cpu.Period = &v
	}
	if *cpu != (specs.LinuxCPU{}) {
		out.CPU = cpu
	}
	if r.MemoryLimitInBytes > 0 {
		limit := r.MemoryLimitInBytes
		out.Memory = &specs.LinuxMemory{Limit: &limit}
		if r.MemorySwapLimitInBytes > 0 {
			swap := r.MemorySwapLimitInBytes
			out.Memory.Swap = &swap
		}
	}
	for _, h := range r.HugepageLimits {
		out.HugepageLimits = append(out.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: h.PageSize, Limit: h.Limit})
	}
	if len(r.Unified) > 0 {
		out.Unified = map[string]string{}
		for k, v := range r.Unified {
			out.Unified[k] = v
		}
	}
	return out
}

// ContainerPath is the cgroup of a container under parent, in the form
// each driver expects: a path for cgroupfs, "slice:prefix:name" for
// systemd. Without a parent the container's cgroup sits at the top, so
// that removing it leaves nothing of cria's behind.
func ContainerPath(d Driver, parent, id string) string {
	if d == Systemd {
		if parent == "" {
			parent = "system.slice"
		}
		return parent + ":cria:" + id
	}
	return path.Join("/", parent, "cria-"+id)
}

// hasHugetlb tells whether the hugetlb controller is usable: mounted on v1
// (a hybrid host may leave it out), enabled at the root on v2.
var hasHugetlb = sync.OnceValue(func() bool {
	if IsV2() {
		b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		return err == nil && slices.Contains(strings.Fields(string(b)), "hugetlb")
	}
	_, err := cgroups.FindCgroupMountpoint("", "hugetlb")
	return err == nil
})

// DropUnavailable removes from res what this host's cgroups cannot
// enforce, as the kubelet sends it regardless: hugepage limits without a
// hugetlb controller (every start would fail otherwise).
func DropUnavailable(res *specs.LinuxResources) {
	dropUnavailable(res, hasHugetlb())
}

func dropUnavailable(res *specs.LinuxResources, hugetlb bool) {
	if res != nil && !hugetlb {
		res.HugepageLimits = nil
	}
}
