package cgroups

import (
	"testing"

	"github.com/opencontainers/cgroups"
)

func TestUsageOf(t *testing.T) {
	st := func(usage, limit uint64, stats map[string]uint64) *cgroups.Stats {
		s := &cgroups.Stats{}
		s.CpuStats.CpuUsage.TotalUsage = 5_000_000
		s.MemoryStats.Usage = cgroups.MemoryData{Usage: usage, Limit: limit}
		s.MemoryStats.Stats = stats
		s.PidsStats.Current = 3
		return s
	}
	for _, tc := range []struct {
		name string
		in   *cgroups.Stats
		v2   bool
		want Usage
	}{
		{"v1", st(100<<20, 256<<20, map[string]uint64{"total_inactive_file": 30 << 20, "total_rss": 60 << 20, "total_pgfault": 9, "total_pgmajfault": 1}), false,
			Usage{CPUNanos: 5_000_000, MemoryUsage: 100 << 20, WorkingSet: 70 << 20, RSS: 60 << 20, MemoryLimit: 256 << 20, PageFaults: 9, MajorPageFaults: 1, Processes: 3}},
		{"v2", st(100<<20, 0, map[string]uint64{"inactive_file": 10 << 20, "anon": 80 << 20, "pgfault": 4, "pgmajfault": 2}), true,
			Usage{CPUNanos: 5_000_000, MemoryUsage: 100 << 20, WorkingSet: 90 << 20, RSS: 80 << 20, PageFaults: 4, MajorPageFaults: 2, Processes: 3}},
		{"unlimited v1 limit is 0", st(1, 1<<63-4096, nil), false, Usage{CPUNanos: 5_000_000, MemoryUsage: 1, WorkingSet: 1, Processes: 3}},
		{"inactive over usage", st(10, 0, map[string]uint64{"total_inactive_file": 20}), false, Usage{CPUNanos: 5_000_000, MemoryUsage: 10, Processes: 3}},
	} {
		if got := usageOf(tc.in, tc.v2); got != tc.want {
			t.Errorf("%s: usageOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
