package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

func TestReadUsageFiles(t *testing.T) {
	write := func(t *testing.T, dir string, files map[string]string) {
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("v1", func(t *testing.T) {
		paths := map[string]string{}
		for _, sub := range []string{"cpuacct", "memory", "pids"} {
			paths[sub] = t.TempDir()
		}
		write(t, paths["cpuacct"], map[string]string{"cpuacct.usage": "5000000\n"})
		write(t, paths["memory"], map[string]string{
			"memory.usage_in_bytes": "104857600\n",
			"memory.limit_in_bytes": "9223372036854771712\n",
			"memory.stat":           "cache 1\nrss 2\ntotal_cache 40\ntotal_rss 62914560\ntotal_mapped_file 7\ntotal_pgfault 9\ntotal_pgmajfault 1\ntotal_inactive_file 31457280\n",
		})
		write(t, paths["pids"], map[string]string{"pids.current": "3\n"})
		got, err := readUsageV1(paths)
		want := Usage{CPUNanos: 5_000_000, MemoryUsage: 100 << 20, WorkingSet: 70 << 20, RSS: 60 << 20, PageFaults: 9, MajorPageFaults: 1,
			MemoryCache: 40, MemoryMappedFile: 7, Processes: 3}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("readUsageV1 = %+v, %v; want %+v", got, err, want)
		}
		// A limit is reported; a subsystem that is not there reads as 0.
		write(t, paths["memory"], map[string]string{"memory.limit_in_bytes": "268435456\n"})
		delete(paths, "pids")
		want.MemoryLimit, want.Processes = 256<<20, 0
		if got, err := readUsageV1(paths); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("readUsageV1 with a limit, no pids = %+v, %v; want %+v", got, err, want)
		}
		// A cgroup that is gone is an error.
		if err := os.Remove(filepath.Join(paths["memory"], "memory.stat")); err != nil {
			t.Fatal(err)
		}
		if _, err := readUsageV1(paths); err == nil {
			t.Error("readUsageV1 of a cgroup without memory.stat: no error")
		}
	})
	t.Run("v2", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, map[string]string{
			"cpu.stat":       "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 9\n",
			"memory.current": "104857600\n",
			"memory.max":     "max\n",
			"memory.stat":    "anon 83886080\nfile 40\nkernel 12\nfile_mapped 7\ninactive_file 10485760\npgfault 4\npgmajfault 2\n",
			"pids.current":   "3\n",
		})
		got, err := readUsageV2(dir)
		want := Usage{CPUNanos: 5_000_000, CPUUserNanos: 3_000_000, CPUSystemNanos: 2_000_000, CFSPeriods: 10, CFSThrottledPeriods: 4, CFSThrottledNanos: 9000,
			MemoryUsage: 100 << 20, WorkingSet: 90 << 20, RSS: 80 << 20, PageFaults: 4, MajorPageFaults: 2,
			MemoryCache: 40, MemoryMappedFile: 7, MemoryKernel: 12, Processes: 3}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("readUsageV2 = %+v, %v; want %+v", got, err, want)
		}
		write(t, dir, map[string]string{"memory.max": "268435456\n", "memory.stat": "inactive_file 209715200\n"})
		if got, err := readUsageV2(dir); err != nil || got.MemoryLimit != 256<<20 || got.WorkingSet != 0 {
			t.Errorf("readUsageV2 with a limit, inactive over usage = %+v, %v", got, err)
		}
	})
}

// benchCgroup makes an empty cgroup beside the test process's own, in
// each hierarchy that ReadUsage reads, and returns its directories as
// libcontainer reports a container's.
func benchCgroup(b *testing.B) map[string]string {
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("cria-bench-%d", os.Getpid())
	paths := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "" && !IsV2() || c != "" && c != "cpuacct" && c != "memory" && c != "pids" {
				continue
			}
			dir := filepath.Join("/sys/fs/cgroup", c, f[2], name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Skipf("making a cgroup: %v", err)
			}
			b.Cleanup(func() { _ = os.Remove(dir) })
			paths[c] = dir
		}
	}
	return paths
}

// BenchmarkReadUsage compares ReadUsage with ReadUsageDetail on the test's
// own cgroup: a stats call on a full node reads one per container.
func BenchmarkReadUsage(b *testing.B) {
	paths := benchCgroup(b)
	for _, bc := range []struct {
		name string
		read func(map[string]string) (Usage, error)
	}{{"ReadUsage", ReadUsage}, {"ReadUsageDetail", ReadUsageDetail}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.read(paths); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want map[string]string
	}{
		{"v1 hybrid", map[string]string{
			"": "/u/x", "blkio": "/b/x", "cpu": "/c/x", "cpuacct": "/ca/x", "cpuset": "/cs/x", "devices": "/d/x",
			"freezer": "/f/x", "hugetlb": "/h/x", "memory": "/m/x", "name=systemd": "/s/x", "net_cls": "/n/x",
			"perf_event": "/p/x", "pids": "/pi/x", "rdma": "/r/x", "misc": "/mi/x",
		}, map[string]string{"": "/u/x", "blkio": "/b/x", "cpu": "/c/x", "cpuacct": "/ca/x", "memory": "/m/x", "pids": "/pi/x"}},
		{"v2", map[string]string{"": "/sys/fs/cgroup/x"}, map[string]string{"": "/sys/fs/cgroup/x"}},
		{"some missing", map[string]string{"memory": "/m/x", "freezer": "/f/x"}, map[string]string{"memory": "/m/x"}},
		{"none", nil, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReadPaths(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadPaths = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     [2]uint64
	}{
		{"both", "a 1\nb 2\n", [2]uint64{1, 2}},
		{"other keys and prefixes left out", "total_a 9\na 1\nab 7\nb 2", [2]uint64{1, 2}},
		{"missing", "c 3\n", [2]uint64{}},
		{"not a number", "a x\nb -1\n", [2]uint64{}},
		{"no value", "a\nb 2\n\n", [2]uint64{0, 2}},
		{"empty", "", [2]uint64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]uint64
			pick([]byte(tc.in), field{"a", &got[0]}, field{"b", &got[1]})
			if got != tc.want {
				t.Errorf("pick(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
