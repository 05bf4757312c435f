package cgroups

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// Usage is what a cgroup has used, in the kubelet's terms.
type Usage struct {
	// CPUNanos is the cumulative CPU time used, all cores.
	CPUNanos uint64
	// MemoryUsage is all memory charged; WorkingSet that less the
	// inactive file cache (what the kubelet evicts on); RSS anonymous
	// memory.
	MemoryUsage, WorkingSet, RSS uint64
	// MemoryLimit is the limit, 0 when unlimited.
	MemoryLimit                 uint64
	PageFaults, MajorPageFaults uint64
	// Processes is the number of tasks.
	Processes uint64
}

// ReadUsage reads the usage of the cgroup at paths (by subsystem, as
// libcontainer reports them).
func ReadUsage(paths map[string]string) (Usage, error) {
	m, err := manager.NewWithPaths(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, paths)
	if err != nil {
		return Usage{}, fmt.Errorf("cgroup stats: %w", err)
	}
	st, err := m.GetStats()
	if err != nil {
		return Usage{}, fmt.Errorf("cgroup stats: %w", err)
	}
	return usageOf(st, IsV2()), nil
}

// IsV2 tells whether the host runs cgroup v2 only.
func IsV2() bool { return cgroups.IsCgroup2UnifiedMode() }

// usageOf maps opencontainers' stats to Usage; v2 names its memory
// counters differently.
func usageOf(st *cgroups.Stats, v2 bool) Usage {
	ms := st.MemoryStats.Stats
	u := Usage{
		CPUNanos:    st.CpuStats.CpuUsage.TotalUsage,
		MemoryUsage: st.MemoryStats.Usage.Usage,
		Processes:   st.PidsStats.Current,
	}
	if lim := st.MemoryStats.Usage.Limit; lim > 0 && lim < 1<<62 {
		u.MemoryLimit = lim
	}
	inactive, rss, faults, major := "total_inactive_file", "total_rss", "total_pgfault", "total_pgmajfault"
	if v2 {
		inactive, rss, faults, major = "inactive_file", "anon", "pgfault", "pgmajfault"
	}
	u.RSS, u.PageFaults, u.MajorPageFaults = ms[rss], ms[faults], ms[major]
	u.WorkingSet = u.MemoryUsage
	if in := ms[inactive]; in < u.WorkingSet {
		u.WorkingSet -= in
	} else {
		u.WorkingSet = 0
	}
	return u
}
