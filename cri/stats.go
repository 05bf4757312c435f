package cri

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/image"
)

// statsTTL is how long a sample is reused: the kubelet and metrics
// scrapers ask often, and reading every cgroup per call does not scale.
const statsTTL = time.Second

type sample struct {
	at        time.Time
	usage     cgroups.Usage
	nanoCores uint64
	layer     layerUsage
	// stats is what containerStats built of the sample, once: a node's
	// stats calls come in pairs (pods', then containers').
	stats atomic.Pointer[runtimeapi.ContainerStats]
}

// statsCollector caches the last sample of each container; consecutive
// samples give the CPU rate (UsageNanoCores).
type statsCollector struct {
	mu      sync.Mutex // protects samples, paths and layers
	samples map[string]*sample
	// paths are containers' cgroup directories, by id.
	paths map[string]map[string]string
	// layers are containers' writable-layer usage, measured by
	// CollectStats.
	layers map[string]*layerUsage
}

// layerUsage is a writable layer's last measurement, and the walk that
// measures it anew.
type layerUsage struct {
	bytes, inodes uint64
	walk          *image.LayerWalk
}

// layerWalkBudget is how many files of one layer a round of CollectStats
// looks at: a larger layer takes several rounds to measure, so that no
// container costs a round more.
const layerWalkBudget = 10000

// sample returns container id's current sample, read anew only when the
// cached one is older than statsTTL.
func (s *RuntimeService) sample(c *store.Container) (*sample, error) {
	s.stats.mu.Lock()
	prev := s.stats.samples[c.ID]
	s.stats.mu.Unlock()
	if prev != nil && time.Since(prev.at) < statsTTL {
		return prev, nil
	}
	paths, err := s.cgroupPaths(c.ID)
	if err != nil {
		return nil, err
	}
	u, err := cgroups.ReadUsage(paths)
	if err != nil {
		return nil, err
	}
	cur := &sample{at: time.Now(), usage: u}
	if prev != nil && u.CPUNanos >= prev.usage.CPUNanos {
		cur.nanoCores = uint64(float64(u.CPUNanos-prev.usage.CPUNanos) / cur.at.Sub(prev.at).Seconds())
	}
	s.stats.mu.Lock()
	if l := s.stats.layers[c.ID]; l != nil {
		cur.layer = layerUsage{bytes: l.bytes, inodes: l.inodes}
	}
	s.stats.samples[c.ID] = cur
	s.stats.mu.Unlock()
	return cur, nil
}

// containerStats builds the CRI stats of a container; a container that is
// not running has only its attributes. The stats of a running one are
// built once per sample, and shared: read only.
func (s *RuntimeService) containerStats(c *store.Container) *runtimeapi.ContainerStats {
	cfg := s.ctrConfig(c)
	attrs := &runtimeapi.ContainerAttributes{
		Id: c.ID, Metadata: cfg.GetMetadata(), Labels: cfg.GetLabels(), Annotations: cfg.GetAnnotations(),
	}
	if c.State != store.ContainerRunning {
		return &runtimeapi.ContainerStats{Attributes: attrs}
	}
	sm, err := s.sample(c)
	if err != nil {
		return &runtimeapi.ContainerStats{Attributes: attrs}
	}
	if st := sm.stats.Load(); st != nil {
		return st
	}
	ts := sm.at.UnixNano()
	u := sm.usage
	st := &runtimeapi.ContainerStats{Attributes: attrs}
	st.Cpu = &runtimeapi.CpuUsage{Timestamp: ts, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u.CPUNanos}, UsageNanoCores: &runtimeapi.UInt64Value{Value: sm.nanoCores}}
	st.Memory = &runtimeapi.MemoryUsage{
		Timestamp: ts, WorkingSetBytes: &runtimeapi.UInt64Value{Value: u.WorkingSet}, UsageBytes: &runtimeapi.UInt64Value{Value: u.MemoryUsage},
		RssBytes: &runtimeapi.UInt64Value{Value: u.RSS}, PageFaults: &runtimeapi.UInt64Value{Value: u.PageFaults},
		MajorPageFaults: &runtimeapi.UInt64Value{Value: u.MajorPageFaults},
	}
	if u.MemoryLimit > u.WorkingSet {
		st.Memory.AvailableBytes = &runtimeapi.UInt64Value{Value: u.MemoryLimit - u.WorkingSet}
	}
	st.WritableLayer = &runtimeapi.FilesystemUsage{
		Timestamp: ts, FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: s.opts.Config.StorageRoot()},
		UsedBytes: &runtimeapi.UInt64Value{Value: sm.layer.bytes}, InodesUsed: &runtimeapi.UInt64Value{Value: sm.layer.inodes},
	}
	if sm.stats.CompareAndSwap(nil, st) {
		return st
	}
	return sm.stats.Load() // built meanwhile by another call
}

// podStats sums the pod's containers, ctrs, and reads its network
// counters.
func (s *RuntimeService) podStats(sb *store.Sandbox, ctrs []*store.Container) *runtimeapi.PodSandboxStats {
	cfg := s.podConfig(sb)
	now := time.Now().UnixNano()
	linux := &runtimeapi.LinuxPodSandboxStats{
		Cpu:     &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{}, UsageNanoCores: &runtimeapi.UInt64Value{}},
		Memory:  &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{}, UsageBytes: &runtimeapi.UInt64Value{}, RssBytes: &runtimeapi.UInt64Value{}, PageFaults: &runtimeapi.UInt64Value{}, MajorPageFaults: &runtimeapi.UInt64Value{}},
		Process: &runtimeapi.ProcessUsage{Timestamp: now, ProcessCount: &runtimeapi.UInt64Value{}},
	}
	pids := []int{sb.PausePID}
	for _, c := range ctrs {
		if cur, err := s.currentContainer(c.ID); err == nil {
			c = cur
		}
		if c.State == store.ContainerRunning {
			pids = append(pids, c.Pid)
		}
		cs := s.containerStats(c)
		linux.Containers = append(linux.Containers, cs)
		if cs.Cpu == nil {
			continue
		}
		linux.Cpu.UsageCoreNanoSeconds.Value += cs.Cpu.UsageCoreNanoSeconds.Value
		linux.Cpu.UsageNanoCores.Value += cs.Cpu.UsageNanoCores.Value
		linux.Memory.WorkingSetBytes.Value += cs.Memory.WorkingSetBytes.Value
		linux.Memory.UsageBytes.Value += cs.Memory.UsageBytes.Value
		linux.Memory.RssBytes.Value += cs.Memory.RssBytes.Value
		linux.Memory.PageFaults.Value += cs.Memory.PageFaults.Value
		linux.Memory.MajorPageFaults.Value += cs.Memory.MajorPageFaults.Value
		if sm, err := s.sample(c); err == nil {
			linux.Process.ProcessCount.Value += sm.usage.Processes
		}
	}
	if ifs, ok := s.interfaceStats(sb, pids); ok {
		linux.Network = networkUsage(now, ifs)
	}
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: sb.ID, Metadata: cfg.GetMetadata(), Labels: cfg.GetLabels(), Annotations: cfg.GetAnnotations()},
		Linux:      linux,
	}
}

// networkUsage is a pod's network usage from the counters of its
// interfaces: eth0 is the default interface, else the first. It is nil for
// a namespace without interfaces (a pod between CNI's teardown and the
// release of its namespace), because the kubelet reads the default
// interface of every usage that it is given.
func networkUsage(now int64, ifs []network.InterfaceStats) *runtimeapi.NetworkUsage {
	if len(ifs) == 0 {
		return nil
	}
	ns := &runtimeapi.NetworkUsage{Timestamp: now}
	for _, i := range ifs {
		is := &runtimeapi.NetworkInterfaceUsage{Name: i.Name,
			RxBytes: &runtimeapi.UInt64Value{Value: i.RxBytes}, RxErrors: &runtimeapi.UInt64Value{Value: i.RxErrors},
			TxBytes: &runtimeapi.UInt64Value{Value: i.TxBytes}, TxErrors: &runtimeapi.UInt64Value{Value: i.TxErrors}}
		if i.Name == "eth0" || ns.DefaultInterface == nil {
			ns.DefaultInterface = is
		}
		ns.Interfaces = append(ns.Interfaces, is)
	}
	return ns
}

// interfaceStats reads the counters of the pod's interfaces, through one
// of pids (its processes) where it can; false when the pod has no network
// namespace of its own (host network) or it is gone.
func (s *RuntimeService) interfaceStats(sb *store.Sandbox, pids []int) ([]network.InterfaceStats, bool) {
	if sb.NetNS == "" || !network.IsPinned(sb.NetNS) {
		return nil, false
	}
	ifs, err := network.ReadInterfaceStatsVia(sb.NetNS, pids)
	return ifs, err == nil
}

// cgroupPaths returns container id's cgroup directories that the stats
// read, which do not change once it is made: read from libcontainer's
// state once.
func (s *RuntimeService) cgroupPaths(id string) (map[string]string, error) {
	s.stats.mu.Lock()
	paths, ok := s.stats.paths[id]
	s.stats.mu.Unlock()
	if ok {
		return paths, nil
	}
	paths, err := s.opts.Runtime.CgroupPaths(id)
	if err != nil {
		return nil, err
	}
	paths = cgroups.ReadPaths(paths)
	s.stats.mu.Lock()
	s.stats.paths[id] = paths
	s.stats.mu.Unlock()
	return paths, nil
}

// forgetStats drops a removed container's cached sample, cgroup paths and
// layer usage.
func (s *RuntimeService) forgetStats(id string) {
	s.stats.mu.Lock()
	delete(s.stats.samples, id)
	delete(s.stats.paths, id)
	delete(s.stats.layers, id)
	s.stats.mu.Unlock()
}

// CollectStats measures each running container's writable layer every
// period, in the background, for the stats RPCs to report: a walk of the
// layer inside the RPC would cost it one lstat per file of every
// container. Each round looks at no more than layerWalkBudget files of a
// layer; a larger layer's walk goes on in the next round, and its last
// complete measurement is reported meanwhile. It returns when ctx ends.
func (s *RuntimeService) CollectStats(ctx context.Context, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		s.collectStats()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// collectStats is one round of CollectStats. It also learns the cgroup
// paths of containers that a restarted daemon found running, so that no
// stats call pays for loading their runtime state.
func (s *RuntimeService) collectStats() {
	for _, c := range s.containers.ListShared() {
		if c.State != store.ContainerRunning {
			continue
		}
		_, _ = s.cgroupPaths(c.ID)
		s.stats.mu.Lock()
		l := s.stats.layers[c.ID]
		if l == nil {
			l = &layerUsage{}
			s.stats.layers[c.ID] = l
		}
		walk := l.walk
		s.stats.mu.Unlock()
		if walk == nil {
			var err error
			if walk, err = s.opts.Images.NewLayerWalk(c.ID); err != nil {
				continue
			}
		}
		done := walk.Step(layerWalkBudget)
		s.stats.mu.Lock()
		if s.stats.layers[c.ID] == l { // not forgotten meanwhile
			l.walk = walk
			if done {
				l.bytes, l.inodes = walk.Usage()
				l.walk = nil
			}
		}
		s.stats.mu.Unlock()
	}
}

func hasPrefix(s, prefix string) bool { return prefix == "" || strings.HasPrefix(s, prefix) }
