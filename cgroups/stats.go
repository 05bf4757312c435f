package cgroups

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// Usage is what a cgroup has used, in the kubelet's and cadvisor's terms.
type Usage struct {
	// CPUNanos is the cumulative CPU time used, all cores; CPUUserNanos
	// and CPUSystemNanos split it by mode.
	CPUNanos, CPUUserNanos, CPUSystemNanos uint64
	// CFS bandwidth control: enforcement periods elapsed, periods in which
	// the cgroup was throttled, and the time it was throttled for.
	CFSPeriods, CFSThrottledPeriods, CFSThrottledNanos uint64
	// MemoryUsage is all memory charged; WorkingSet that less the
	// inactive file cache (what the kubelet evicts on); RSS anonymous
	// memory.
	MemoryUsage, WorkingSet, RSS uint64
	// MemoryLimit is the limit, 0 when unlimited.
	MemoryLimit                 uint64
	PageFaults, MajorPageFaults uint64
	// MemoryCache is the page cache, MemoryMappedFile its mapped part,
	// MemoryKernel kernel memory; MemoryMaxUsage the peak usage (v1 only);
	// MemoryFailcnt how often the limit was hit; MemorySwap swap used.
	MemoryCache, MemoryMappedFile, MemoryKernel uint64
	MemoryMaxUsage, MemoryFailcnt, MemorySwap   uint64
	// Processes is the number of tasks; ProcessLimit the pids limit, 0
	// when unlimited.
	Processes, ProcessLimit uint64
	// IO is the block I/O per device, sorted by device number.
	IO []DeviceIO
}

// DeviceIO is the block I/O that a cgroup did on one device.
type DeviceIO struct {
	Major, Minor          uint64
	ReadBytes, WriteBytes uint64
	Reads, Writes         uint64
}

// readSubsystems are the directories that this package's readers look
// in: v1 subsystems, and "" for the unified hierarchy.
var readSubsystems = []string{"", "blkio", "cpu", "cpuacct", "memory", "pids"}

// ReadPaths keeps of a cgroup's directories (by subsystem, as libcontainer
// reports them) the ones that ReadUsage, ReadUsageDetail, ReadIO, ReadSpec,
// ReadTasks and OOMKills look in. A daemon that keeps them for every
// container keeps six strings of a v1 host's dozen or more.
func ReadPaths(paths map[string]string) map[string]string {
	out := make(map[string]string, len(readSubsystems))
	for _, sub := range readSubsystems {
		if p, ok := paths[sub]; ok {
			out[sub] = p
		}
	}
	return out
}

// ReadUsage reads what the CRI's stats report of the cgroup at paths (by
// subsystem, as libcontainer reports them): CPU time, memory usage, limit,
// working set, RSS, page faults, cache and processes. It reads five files
// and no others, as a full node samples hundreds of cgroups per stats
// call; ReadUsageDetail reads everything in Usage but IO.
func ReadUsage(paths map[string]string) (Usage, error) {
	if dir, ok := paths[""]; ok && IsV2() {
		return readUsageV2(dir)
	}
	return readUsageV1(paths)
}

func readUsageV1(paths map[string]string) (Usage, error) {
	var u Usage
	var err error
	// Each file is parsed before the next is read into buf.
	var buf [4096]byte
	read := func(subsystem, file string) []byte {
		dir, ok := paths[subsystem]
		if !ok || err != nil {
			return nil
		}
		b, rerr := readSmall(filepath.Join(dir, file), buf[:0])
		if rerr != nil {
			err = fmt.Errorf("cgroup stats: %w", rerr)
		}
		return b
	}
	u.CPUNanos = parseUint(read("cpuacct", "cpuacct.usage"))
	u.MemoryUsage = parseUint(read("memory", "memory.usage_in_bytes"))
	u.MemoryLimit = unlimited(parseUint(read("memory", "memory.limit_in_bytes")))
	var inactiveFile uint64
	pick(read("memory", "memory.stat"), field{"total_rss", &u.RSS}, field{"total_pgfault", &u.PageFaults},
		field{"total_pgmajfault", &u.MajorPageFaults}, field{"total_cache", &u.MemoryCache},
		field{"total_mapped_file", &u.MemoryMappedFile}, field{"total_inactive_file", &inactiveFile})
	u.Processes = parseUint(read("pids", "pids.current"))
	if err != nil {
		return Usage{}, err
	}
	u.WorkingSet = workingSet(u.MemoryUsage, inactiveFile)
	return u, nil
}

func readUsageV2(dir string) (Usage, error) {
	var u Usage
	var err error
	// Each file is parsed before the next is read into buf.
	var buf [4096]byte
	read := func(file string) []byte {
		b, rerr := readSmall(filepath.Join(dir, file), buf[:0])
		if rerr != nil && err == nil {
			err = fmt.Errorf("cgroup stats: %w", rerr)
		}
		return b
	}
	var usage, user, system, throttled uint64 // µs
	pick(read("cpu.stat"), field{"usage_usec", &usage}, field{"user_usec", &user}, field{"system_usec", &system},
		field{"nr_periods", &u.CFSPeriods}, field{"nr_throttled", &u.CFSThrottledPeriods}, field{"throttled_usec", &throttled})
	u.CPUNanos, u.CPUUserNanos, u.CPUSystemNanos, u.CFSThrottledNanos = usage*1000, user*1000, system*1000, throttled*1000
	u.MemoryUsage = parseUint(read("memory.current"))
	u.MemoryLimit = parseUint(read("memory.max")) // "max" reads as 0
	var inactiveFile uint64
	pick(read("memory.stat"), field{"anon", &u.RSS}, field{"pgfault", &u.PageFaults}, field{"pgmajfault", &u.MajorPageFaults},
		field{"file", &u.MemoryCache}, field{"file_mapped", &u.MemoryMappedFile}, field{"kernel", &u.MemoryKernel},
		field{"inactive_file", &inactiveFile})
	u.Processes = parseUint(read("pids.current"))
	if err != nil {
		return Usage{}, err
	}
	u.WorkingSet = workingSet(u.MemoryUsage, inactiveFile)
	return u, nil
}

// readSmall reads a cgroup file of at most 64 KiB into buf, which it grows
// if the file needs more. It goes around os.File: Go would register each
// cgroupfs file in its poller (kernfs files are pollable), an epoll_ctl in
// and out per read, a quarter of the cost.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf = buf[:0]
	for len(buf) < 64<<10 {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// workingSet is the usage less the inactive file cache, as the kubelet
// and cadvisor count it.
func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile < usage {
		return usage - inactiveFile
	}
	return 0
}

// parseUint reads a cgroup file's number; "max" and garbage read as 0.
func parseUint(b []byte) uint64 {
	v, _ := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return v
}

// field is a key of a "key value" file and where pick puts its value.
type field struct {
	key string
	to  *uint64
}

// pick parses the "key value" lines of b (memory.stat, cpu.stat) into the
// fields that name their keys, leaving the others as they are. It builds
// no map: a stats call reads memory.stat of every container, some forty
// lines each.
func pick(b []byte, fields ...field) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		for _, f := range fields {
			if f.key == string(k) {
				if n, err := strconv.ParseUint(string(v), 10, 64); err == nil {
					*f.to = n
				}
				break
			}
		}
	}
}

// ReadUsageDetail reads everything in Usage but IO (ReadIO reads it):
// ReadUsage's figures and CPU time by mode, CFS throttling, peak memory,
// limit hits, kernel memory, swap and the pids limit, through the
// opencontainers/cgroups library, which reads some twenty files.
func ReadUsageDetail(paths map[string]string) (Usage, error) {
	st, err := readStats(paths, cgroups.CPU|cgroups.Memory|cgroups.Pids)
	if err != nil {
		return Usage{}, err
	}
	return usageOf(st, IsV2()), nil
}

// ReadIO reads the block I/O of the cgroup at paths, per device.
func ReadIO(paths map[string]string) ([]DeviceIO, error) {
	st, err := readStats(paths, cgroups.IO)
	if err != nil {
		return nil, err
	}
	return deviceIO(st.BlkioStats), nil
}

func readStats(paths map[string]string, controllers cgroups.Controller) (*cgroups.Stats, error) {
	m, err := manager.NewWithPaths(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup stats: %w", err)
	}
	st, err := m.Stats(&cgroups.StatsOptions{Controllers: controllers})
	if err != nil {
		return nil, fmt.Errorf("cgroup stats: %w", err)
	}
	return st, nil
}

// IsV2 tells whether the host runs cgroup v2 only.
func IsV2() bool { return cgroups.IsCgroup2UnifiedMode() }

// unlimited reports limits the kernel prints as "max" (v2) or as a huge
// page-aligned number (v1) as 0.
func unlimited(v uint64) uint64 {
	if v >= 1<<62 {
		return 0
	}
	return v
}

// usageOf maps opencontainers' stats to Usage; v2 names its memory
// counters differently.
func usageOf(st *cgroups.Stats, v2 bool) Usage {
	ms := st.MemoryStats.Stats
	cpu := st.CpuStats
	u := Usage{
		CPUNanos:            cpu.CpuUsage.TotalUsage,
		CPUUserNanos:        cpu.CpuUsage.UsageInUsermode,
		CPUSystemNanos:      cpu.CpuUsage.UsageInKernelmode,
		CFSPeriods:          cpu.ThrottlingData.Periods,
		CFSThrottledPeriods: cpu.ThrottlingData.ThrottledPeriods,
		CFSThrottledNanos:   cpu.ThrottlingData.ThrottledTime,
		MemoryUsage:         st.MemoryStats.Usage.Usage,
		MemoryLimit:         unlimited(st.MemoryStats.Usage.Limit),
		MemoryMaxUsage:      st.MemoryStats.Usage.MaxUsage,
		MemoryFailcnt:       st.MemoryStats.Usage.Failcnt,
		MemoryKernel:        st.MemoryStats.KernelUsage.Usage,
		Processes:           st.PidsStats.Current,
		ProcessLimit:        unlimited(st.PidsStats.Limit),
	}
	inactive, rss, faults, major, cache, mapped := "total_inactive_file", "total_rss", "total_pgfault", "total_pgmajfault", "total_cache", "total_mapped_file"
	if v2 {
		inactive, rss, faults, major, cache, mapped = "inactive_file", "anon", "pgfault", "pgmajfault", "file", "file_mapped"
		u.MemoryKernel = ms["kernel"]
	}
	u.RSS, u.PageFaults, u.MajorPageFaults = ms[rss], ms[faults], ms[major]
	u.MemoryCache, u.MemoryMappedFile = ms[cache], ms[mapped]
	u.WorkingSet = workingSet(u.MemoryUsage, ms[inactive])
	// Both versions report memory+swap here (v2 is converted to v1's
	// memsw by opencontainers); swap alone is the difference.
	if sw := st.MemoryStats.SwapUsage.Usage; sw > u.MemoryUsage {
		u.MemorySwap = sw - u.MemoryUsage
	}
	u.IO = deviceIO(st.BlkioStats)
	return u
}

// deviceIO folds the blkio entries into one DeviceIO per device.
func deviceIO(b cgroups.BlkioStats) []DeviceIO {
	byDev := map[[2]uint64]*DeviceIO{}
	get := func(e cgroups.BlkioStatEntry) *DeviceIO {
		k := [2]uint64{e.Major, e.Minor}
		if byDev[k] == nil {
			byDev[k] = &DeviceIO{Major: e.Major, Minor: e.Minor}
		}
		return byDev[k]
	}
	for _, e := range b.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			get(e).ReadBytes += e.Value
		case "write":
			get(e).WriteBytes += e.Value
		}
	}
	for _, e := range b.IoServicedRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			get(e).Reads += e.Value
		case "write":
			get(e).Writes += e.Value
		}
	}
	var out []DeviceIO
	for _, d := range byDev {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Major != out[j].Major {
			return out[i].Major < out[j].Major
		}
		return out[i].Minor < out[j].Minor
	})
	return out
}

// Spec is what a cgroup is configured with, as cadvisor reports it.
type Spec struct {
	// CPUPeriod is the CFS period in microseconds; CPUShares the relative
	// weight in v1's units (v2's weight converted back).
	CPUPeriod, CPUShares uint64
	// SwapLimit is the swap (v2) or memory+swap (v1) limit in bytes, 0
	// when unlimited.
	SwapLimit uint64
}

// ReadSpec reads the cgroup's CPU and swap settings from its files.
func ReadSpec(paths map[string]string) Spec {
	var s Spec
	if p, ok := paths[""]; ok && IsV2() {
		if f := strings.Fields(readString(filepath.Join(p, "cpu.max"))); len(f) == 2 {
			s.CPUPeriod, _ = strconv.ParseUint(f[1], 10, 64)
		}
		if w := readUint(filepath.Join(p, "cpu.weight")); w > 0 {
			// The inverse of the kubelet's shares → weight mapping.
			s.CPUShares = 2 + ((w-1)*262142)/9999
		}
		s.SwapLimit = readUint(filepath.Join(p, "memory.swap.max"))
		return s
	}
	if p, ok := paths["cpu"]; ok {
		s.CPUPeriod = readUint(filepath.Join(p, "cpu.cfs_period_us"))
		s.CPUShares = readUint(filepath.Join(p, "cpu.shares"))
	}
	if p, ok := paths["memory"]; ok {
		s.SwapLimit = unlimited(readUint(filepath.Join(p, "memory.memsw.limit_in_bytes")))
	}
	return s
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readUint reads a number; "max" and unreadable files read as 0.
func readUint(path string) uint64 {
	v, _ := strconv.ParseUint(readString(path), 10, 64)
	return v
}

// Tasks are what the processes of a cgroup hold.
type Tasks struct {
	// FileDescriptors open, of which Sockets are sockets; Threads in all.
	FileDescriptors, Sockets, Threads uint64
}

// ReadTasks counts the open files, sockets and threads of every process in
// the cgroup (found through its pids, memory or unified directory).
func ReadTasks(paths map[string]string) (Tasks, error) {
	dir := ""
	for _, sub := range []string{"pids", "memory", ""} {
		if p, ok := paths[sub]; ok {
			dir = p
			break
		}
	}
	if dir == "" {
		return Tasks{}, fmt.Errorf("no cgroup directory to list processes in")
	}
	pids, err := cgroups.GetAllPids(dir)
	if err != nil {
		return Tasks{}, err
	}
	var t Tasks
	for _, pid := range pids {
		proc := filepath.Join("/proc", strconv.Itoa(pid))
		if tasks, err := os.ReadDir(filepath.Join(proc, "task")); err == nil {
			t.Threads += uint64(len(tasks))
		}
		fds, err := os.ReadDir(filepath.Join(proc, "fd"))
		if err != nil {
			continue // exited meanwhile
		}
		t.FileDescriptors += uint64(len(fds))
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join(proc, "fd", fd.Name())); err == nil && strings.HasPrefix(target, "socket:") {
				t.Sockets++
			}
		}
	}
	return t, nil
}
