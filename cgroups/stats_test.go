package cgroups

import (
	"reflect"
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
		{"v1 in full", func() *cgroups.Stats {
			s := st(100, 1000, map[string]uint64{"total_cache": 40, "total_mapped_file": 7})
			s.CpuStats.CpuUsage.UsageInUsermode, s.CpuStats.CpuUsage.UsageInKernelmode = 3_000_000, 2_000_000
			s.CpuStats.ThrottlingData = cgroups.ThrottlingData{Periods: 10, ThrottledPeriods: 4, ThrottledTime: 900}
			s.MemoryStats.Usage.MaxUsage, s.MemoryStats.Usage.Failcnt = 150, 2
			s.MemoryStats.SwapUsage.Usage = 130
			s.MemoryStats.KernelUsage.Usage = 12
			s.PidsStats.Limit = 64
			s.BlkioStats.IoServiceBytesRecursive = []cgroups.BlkioStatEntry{
				{Major: 8, Minor: 0, Op: "Read", Value: 4096}, {Major: 8, Minor: 0, Op: "Write", Value: 512},
				{Major: 8, Minor: 0, Op: "Total", Value: 4608}, {Major: 7, Minor: 1, Op: "Read", Value: 1}}
			s.BlkioStats.IoServicedRecursive = []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Op: "Read", Value: 3}, {Major: 8, Minor: 0, Op: "Write", Value: 1}}
			return s
		}(), false, Usage{CPUNanos: 5_000_000, CPUUserNanos: 3_000_000, CPUSystemNanos: 2_000_000,
			CFSPeriods: 10, CFSThrottledPeriods: 4, CFSThrottledNanos: 900,
			MemoryUsage: 100, WorkingSet: 100, MemoryLimit: 1000, MemoryCache: 40, MemoryMappedFile: 7, MemoryKernel: 12,
			MemoryMaxUsage: 150, MemoryFailcnt: 2, MemorySwap: 30, Processes: 3, ProcessLimit: 64,
			IO: []DeviceIO{{Major: 7, Minor: 1, ReadBytes: 1}, {Major: 8, ReadBytes: 4096, WriteBytes: 512, Reads: 3, Writes: 1}}}},
		{"inactive over usage", st(10, 0, map[string]uint64{"total_inactive_file": 20}), false, Usage{CPUNanos: 5_000_000, MemoryUsage: 10, Processes: 3}},
	} {
		if got := usageOf(tc.in, tc.v2); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: usageOf = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
