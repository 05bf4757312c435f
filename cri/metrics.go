package cri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/store"
)

// metricLabels are the label keys every metric starts with, in the order
// of their values, as cadvisor names them (the kubelet serves these under
// /metrics/cadvisor).
var metricLabels = []string{"container", "id", "image", "name", "namespace", "pod"}

type metricDef struct {
	name, help string
	typ        runtimeapi.MetricType
	extra      []string // label keys after metricLabels
}

const (
	counter = runtimeapi.MetricType_COUNTER
	gauge   = runtimeapi.MetricType_GAUGE
)

var (
	byInterface = []string{"interface"}
	byDevice    = []string{"device"}
)

// metricDefs are the metrics cria reports, with cadvisor's names, help and
// labels.
var metricDefs = []metricDef{
	{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", counter, nil},
	{"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", counter, nil},
	{"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", counter, nil},
	{"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", counter, nil},
	{"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", counter, nil},
	{"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", counter, nil},
	{"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", gauge, nil},
	{"container_memory_working_set_bytes", "Current working set in bytes.", gauge, nil},
	{"container_memory_rss", "Size of RSS in bytes.", gauge, nil},
	{"container_memory_cache", "Number of bytes of page cache memory.", gauge, nil},
	{"container_memory_mapped_file", "Size of memory mapped files in bytes.", gauge, nil},
	{"container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", gauge, nil},
	{"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes.", gauge, nil},
	{"container_memory_failcnt", "Number of memory usage hits limits.", counter, nil},
	{"container_memory_swap", "Container swap usage in bytes.", gauge, nil},
	{"container_memory_failures_total", "Cumulative count of memory allocation failures.", counter, []string{"failure_type", "scope"}},
	{"container_oom_events_total", "Count of out of memory events observed for the container.", counter, nil},
	{"container_spec_memory_limit_bytes", "Memory limit for the container.", gauge, nil},
	{"container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", gauge, nil},
	{"container_spec_cpu_period", "CPU period of the container.", gauge, nil},
	{"container_spec_cpu_shares", "CPU share of the container.", gauge, nil},
	{"container_processes", "Number of processes running inside the container.", gauge, nil},
	{"container_threads", "Number of threads running inside the container.", gauge, nil},
	{"container_threads_max", "Maximum number of threads allowed inside the container, 0 if unlimited.", gauge, nil},
	{"container_file_descriptors", "Number of open file descriptors for the container.", gauge, nil},
	{"container_sockets", "Number of open sockets for the container.", gauge, nil},
	{"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", gauge, nil},
	{"container_last_seen", "Last time a container was seen by the exporter.", gauge, nil},
	{"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", gauge, byDevice},
	{"container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this filesystem.", gauge, byDevice},
	{"container_fs_inodes_free", "Number of available Inodes.", gauge, byDevice},
	{"container_fs_inodes_total", "Number of Inodes.", gauge, byDevice},
	{"container_fs_reads_bytes_total", "Cumulative count of bytes read.", counter, byDevice},
	{"container_fs_writes_bytes_total", "Cumulative count of bytes written.", counter, byDevice},
	{"container_fs_reads_total", "Cumulative count of reads completed.", counter, byDevice},
	{"container_fs_writes_total", "Cumulative count of writes completed.", counter, byDevice},
	{"container_blkio_device_usage_total", "Blkio device bytes usage.", counter, []string{"device", "major", "minor", "operation"}},
	{"container_network_receive_bytes_total", "Cumulative count of bytes received.", counter, byInterface},
	{"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", counter, byInterface},
	{"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", counter, byInterface},
	{"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", counter, byInterface},
	{"container_network_receive_packets_total", "Cumulative count of packets received.", counter, byInterface},
	{"container_network_transmit_packets_total", "Cumulative count of packets transmitted.", counter, byInterface},
	{"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving.", counter, byInterface},
	{"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting.", counter, byInterface},
}

// metricTypes maps each metric's name to its type.
var metricTypes = func() map[string]runtimeapi.MetricType {
	m := make(map[string]runtimeapi.MetricType, len(metricDefs))
	for _, d := range metricDefs {
		m[d.name] = d.typ
	}
	return m
}()

// ListMetricDescriptors describes the metrics that ListPodSandboxMetrics
// reports.
func (s *RuntimeService) ListMetricDescriptors(ctx context.Context, req *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	out := make([]*runtimeapi.MetricDescriptor, 0, len(metricDefs))
	for _, d := range metricDefs {
		keys := append(append([]string(nil), metricLabels...), d.extra...)
		out = append(out, &runtimeapi.MetricDescriptor{Name: d.name, Help: d.help, LabelKeys: keys})
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: out}, nil
}

// ListPodSandboxMetrics reports every ready pod's metrics: network per
// interface for the pod, and CPU, memory, processes, files and filesystem
// for each running container.
func (s *RuntimeService) ListPodSandboxMetrics(ctx context.Context, req *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: s.podMetrics()}, nil
}

// StreamPodSandboxMetrics answers as ListPodSandboxMetrics does, in batches.
func (s *RuntimeService) StreamPodSandboxMetrics(req *runtimeapi.StreamPodSandboxMetricsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxMetricsResponse]) error {
	return sendBatches(s.podMetrics(), func(batch []*runtimeapi.PodSandboxMetrics) error {
		return stream.Send(&runtimeapi.StreamPodSandboxMetricsResponse{PodSandboxMetrics: batch})
	})
}

// metricSet collects metrics that share a timestamp and leading labels.
type metricSet struct {
	ts      int64
	labels  []string
	metrics []*runtimeapi.Metric
}

func (m *metricSet) add(name string, v uint64, extra ...string) {
	labels := append(append(make([]string, 0, len(m.labels)+len(extra)), m.labels...), extra...)
	m.metrics = append(m.metrics, &runtimeapi.Metric{Name: name, Timestamp: m.ts, MetricType: metricTypes[name], LabelValues: labels, Value: &runtimeapi.UInt64Value{Value: v}})
}

// storageFS is the filesystem that holds containers' writable layers.
type storageFS struct {
	device                    string
	limit, inodes, inodesFree uint64
}

func (s *RuntimeService) storageFS() (storageFS, bool) {
	root := s.opts.Config.StorageRoot()
	var st unix.Statfs_t
	var fi unix.Stat_t
	if unix.Statfs(root, &st) != nil || unix.Stat(root, &fi) != nil {
		return storageFS{}, false
	}
	return storageFS{
		device: deviceName(uint64(unix.Major(fi.Dev)), uint64(unix.Minor(fi.Dev))),
		limit:  st.Blocks * uint64(st.Bsize), inodes: st.Files, inodesFree: st.Ffree,
	}, true
}

// deviceName names a block device as cadvisor does ("/dev/sda1"), or by
// its numbers when sysfs does not know it (as for overlay or tmpfs).
func deviceName(major, minor uint64) string {
	if target, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", major, minor)); err == nil {
		return "/dev/" + filepath.Base(target)
	}
	return fmt.Sprintf("%d:%d", major, minor)
}

func (s *RuntimeService) podMetrics() []*runtimeapi.PodSandboxMetrics {
	var out []*runtimeapi.PodSandboxMetrics
	fs, fsOK := s.storageFS()
	byPod := map[string][]*store.Container{}
	for _, c := range s.containers.List() {
		byPod[c.SandboxID] = append(byPod[c.SandboxID], c)
	}
	for _, sb := range s.sandboxes.List() {
		if sb.State != store.SandboxReady {
			continue
		}
		meta := s.podConfig(sb).GetMetadata()
		pm := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
		pids := []int{sb.PausePID}
		for _, c := range byPod[sb.ID] {
			if c.State == store.ContainerRunning {
				pids = append(pids, c.Pid)
			}
		}
		if ifs, ok := s.interfaceStats(sb, pids); ok {
			set := &metricSet{ts: time.Now().UnixNano(), labels: []string{"POD", sb.ID, "", meta.GetName(), meta.GetNamespace(), meta.GetName()}}
			for _, i := range ifs {
				set.add("container_network_receive_bytes_total", i.RxBytes, i.Name)
				set.add("container_network_transmit_bytes_total", i.TxBytes, i.Name)
				set.add("container_network_receive_errors_total", i.RxErrors, i.Name)
				set.add("container_network_transmit_errors_total", i.TxErrors, i.Name)
				set.add("container_network_receive_packets_total", i.RxPackets, i.Name)
				set.add("container_network_transmit_packets_total", i.TxPackets, i.Name)
				set.add("container_network_receive_packets_dropped_total", i.RxDropped, i.Name)
				set.add("container_network_transmit_packets_dropped_total", i.TxDropped, i.Name)
			}
			pm.Metrics = set.metrics
		}
		for _, c := range byPod[sb.ID] {
			if cur, err := s.currentContainer(c.ID); err == nil {
				c = cur
			}
			if c.State != store.ContainerRunning {
				continue
			}
			if cm := s.containerMetrics(c, meta, fs, fsOK); cm != nil {
				pm.ContainerMetrics = append(pm.ContainerMetrics, cm)
			}
		}
		out = append(out, pm)
	}
	return out
}

// containerMetrics reads one running container's metrics, or nil if its
// cgroup is gone.
func (s *RuntimeService) containerMetrics(c *store.Container, pod *runtimeapi.PodSandboxMetadata, fs storageFS, fsOK bool) *runtimeapi.ContainerMetrics {
	sm, err := s.sample(c)
	if err != nil {
		return nil
	}
	paths, err := s.cgroupPaths(c.ID)
	if err != nil {
		return nil
	}
	// Metrics have more figures than the CRI's stats, which the sample
	// holds.
	u, err := cgroups.ReadUsageDetail(paths)
	if err != nil {
		return nil
	}
	// "container" is the name in the pod spec, which the kubelet and
	// dashboards select series by.
	name := containerConfig(c).GetMetadata().GetName()
	set := &metricSet{ts: sm.at.UnixNano(), labels: []string{name, c.ID, c.ImageRef, c.ID, pod.GetNamespace(), pod.GetName()}}
	sec := func(nanos uint64) uint64 { return nanos / uint64(time.Second) }

	set.add("container_cpu_usage_seconds_total", sec(u.CPUNanos))
	set.add("container_cpu_user_seconds_total", sec(u.CPUUserNanos))
	set.add("container_cpu_system_seconds_total", sec(u.CPUSystemNanos))
	set.add("container_cpu_cfs_periods_total", u.CFSPeriods)
	set.add("container_cpu_cfs_throttled_periods_total", u.CFSThrottledPeriods)
	set.add("container_cpu_cfs_throttled_seconds_total", sec(u.CFSThrottledNanos))

	set.add("container_memory_usage_bytes", u.MemoryUsage)
	set.add("container_memory_working_set_bytes", u.WorkingSet)
	set.add("container_memory_rss", u.RSS)
	set.add("container_memory_cache", u.MemoryCache)
	set.add("container_memory_mapped_file", u.MemoryMappedFile)
	set.add("container_memory_kernel_usage", u.MemoryKernel)
	set.add("container_memory_max_usage_bytes", u.MemoryMaxUsage)
	set.add("container_memory_failcnt", u.MemoryFailcnt)
	set.add("container_memory_swap", u.MemorySwap)
	set.add("container_memory_failures_total", u.PageFaults, "pgfault", "container")
	set.add("container_memory_failures_total", u.MajorPageFaults, "pgmajfault", "container")
	set.add("container_oom_events_total", uint64(cgroups.OOMKills(paths)))

	spec := cgroups.ReadSpec(paths)
	set.add("container_spec_memory_limit_bytes", u.MemoryLimit)
	set.add("container_spec_memory_swap_limit_bytes", spec.SwapLimit)
	set.add("container_spec_cpu_period", spec.CPUPeriod)
	set.add("container_spec_cpu_shares", spec.CPUShares)

	set.add("container_processes", u.Processes)
	set.add("container_threads_max", u.ProcessLimit)
	if tasks, err := cgroups.ReadTasks(paths); err == nil {
		set.add("container_threads", tasks.Threads)
		set.add("container_file_descriptors", tasks.FileDescriptors)
		set.add("container_sockets", tasks.Sockets)
	}
	set.add("container_start_time_seconds", uint64(c.StartedAt)/uint64(time.Second))
	set.add("container_last_seen", uint64(time.Now().Unix()))

	if fsOK {
		set.add("container_fs_usage_bytes", sm.layer.bytes, fs.device)
		set.add("container_fs_limit_bytes", fs.limit, fs.device)
		set.add("container_fs_inodes_free", fs.inodesFree, fs.device)
		set.add("container_fs_inodes_total", fs.inodes, fs.device)
	}
	io, _ := cgroups.ReadIO(paths)
	for _, d := range io {
		dev := deviceName(d.Major, d.Minor)
		major, minor := strconv.FormatUint(d.Major, 10), strconv.FormatUint(d.Minor, 10)
		set.add("container_fs_reads_bytes_total", d.ReadBytes, dev)
		set.add("container_fs_writes_bytes_total", d.WriteBytes, dev)
		set.add("container_fs_reads_total", d.Reads, dev)
		set.add("container_fs_writes_total", d.Writes, dev)
		set.add("container_blkio_device_usage_total", d.ReadBytes, dev, major, minor, "Read")
		set.add("container_blkio_device_usage_total", d.WriteBytes, dev, major, minor, "Write")
	}
	return &runtimeapi.ContainerMetrics{ContainerId: c.ID, Metrics: set.metrics}
}
