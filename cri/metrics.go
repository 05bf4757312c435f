package cri

import (
	"context"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// Label keys of the metrics, in the order of their values, as cadvisor
// names them (the kubelet serves these under /metrics/cadvisor).
var (
	metricLabels    = []string{"container", "id", "image", "name", "namespace", "pod"}
	netMetricLabels = append(append([]string(nil), metricLabels...), "interface")
)

type metricDef struct {
	name, help string
	typ        runtimeapi.MetricType
	network    bool
}

// metricDefs are the metrics cria reports, by name.
var metricDefs = []metricDef{
	{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", runtimeapi.MetricType_COUNTER, false},
	{"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", runtimeapi.MetricType_GAUGE, false},
	{"container_memory_working_set_bytes", "Current working set in bytes.", runtimeapi.MetricType_GAUGE, false},
	{"container_memory_rss", "Size of RSS in bytes.", runtimeapi.MetricType_GAUGE, false},
	{"container_spec_memory_limit_bytes", "Memory limit for the container.", runtimeapi.MetricType_GAUGE, false},
	{"container_processes", "Number of processes running inside the container.", runtimeapi.MetricType_GAUGE, false},
	{"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", runtimeapi.MetricType_GAUGE, false},
	{"container_network_receive_bytes_total", "Cumulative count of bytes received.", runtimeapi.MetricType_COUNTER, true},
	{"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", runtimeapi.MetricType_COUNTER, true},
	{"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", runtimeapi.MetricType_COUNTER, true},
	{"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", runtimeapi.MetricType_COUNTER, true},
}

// ListMetricDescriptors describes the metrics that ListPodSandboxMetrics
// reports.
func (s *RuntimeService) ListMetricDescriptors(ctx context.Context, req *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	out := make([]*runtimeapi.MetricDescriptor, 0, len(metricDefs))
	for _, d := range metricDefs {
		keys := metricLabels
		if d.network {
			keys = netMetricLabels
		}
		out = append(out, &runtimeapi.MetricDescriptor{Name: d.name, Help: d.help, LabelKeys: keys})
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: out}, nil
}

// ListPodSandboxMetrics reports every ready pod's metrics: network per
// interface for the pod, and CPU, memory, processes and filesystem for
// each running container.
func (s *RuntimeService) ListPodSandboxMetrics(ctx context.Context, req *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: s.podMetrics()}, nil
}

// StreamPodSandboxMetrics answers as ListPodSandboxMetrics does, in batches.
func (s *RuntimeService) StreamPodSandboxMetrics(req *runtimeapi.StreamPodSandboxMetricsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxMetricsResponse]) error {
	return sendBatches(s.podMetrics(), func(batch []*runtimeapi.PodSandboxMetrics) error {
		return stream.Send(&runtimeapi.StreamPodSandboxMetricsResponse{PodSandboxMetrics: batch})
	})
}

func (s *RuntimeService) podMetrics() []*runtimeapi.PodSandboxMetrics {
	var out []*runtimeapi.PodSandboxMetrics
	for _, sb := range s.sandboxes.List() {
		if sb.State != store.SandboxReady {
			continue
		}
		meta := sandboxConfig(sb).GetMetadata()
		st := s.podStats(sb)
		now := time.Now().UnixNano()
		pm := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
		if n := st.GetLinux().GetNetwork(); n != nil {
			for _, i := range n.Interfaces {
				labels := []string{"POD", sb.ID, "", meta.GetName(), meta.GetNamespace(), meta.GetName(), i.Name}
				for _, m := range []struct {
					name string
					v    uint64
				}{
					{"container_network_receive_bytes_total", i.RxBytes.GetValue()},
					{"container_network_transmit_bytes_total", i.TxBytes.GetValue()},
					{"container_network_receive_errors_total", i.RxErrors.GetValue()},
					{"container_network_transmit_errors_total", i.TxErrors.GetValue()},
				} {
					pm.Metrics = append(pm.Metrics, metric(m.name, now, labels, m.v))
				}
			}
		}
		for _, c := range st.GetLinux().GetContainers() {
			if c.Cpu == nil {
				continue // not running
			}
			cm := &runtimeapi.ContainerMetrics{ContainerId: c.Attributes.Id}
			image := ""
			if rec, err := s.containers.Get(c.Attributes.Id); err == nil {
				image = rec.ImageRef
			}
			labels := []string{c.Attributes.GetMetadata().GetName(), c.Attributes.Id, image, c.Attributes.Id, meta.GetNamespace(), meta.GetName()}
			var limit uint64
			if c.Memory.AvailableBytes != nil {
				limit = c.Memory.AvailableBytes.Value + c.Memory.WorkingSetBytes.Value
			}
			var procs uint64
			if sm, err := s.containerSample(c.Attributes.Id); err == nil {
				procs = sm.usage.Processes
			}
			for _, m := range []struct {
				name string
				v    uint64
			}{
				{"container_cpu_usage_seconds_total", c.Cpu.UsageCoreNanoSeconds.GetValue() / uint64(time.Second)},
				{"container_memory_usage_bytes", c.Memory.UsageBytes.GetValue()},
				{"container_memory_working_set_bytes", c.Memory.WorkingSetBytes.GetValue()},
				{"container_memory_rss", c.Memory.RssBytes.GetValue()},
				{"container_spec_memory_limit_bytes", limit},
				{"container_processes", procs},
				{"container_fs_usage_bytes", c.WritableLayer.GetUsedBytes().GetValue()},
			} {
				cm.Metrics = append(cm.Metrics, metric(m.name, now, labels, m.v))
			}
			pm.ContainerMetrics = append(pm.ContainerMetrics, cm)
		}
		out = append(out, pm)
	}
	return out
}

// containerSample returns the cached sample of a container by id.
func (s *RuntimeService) containerSample(id string) (*sample, error) {
	c, err := s.containers.Get(id)
	if err != nil {
		return nil, err
	}
	return s.sample(c)
}

func metric(name string, ts int64, labels []string, v uint64) *runtimeapi.Metric {
	typ := runtimeapi.MetricType_GAUGE
	for _, d := range metricDefs {
		if d.name == name {
			typ = d.typ
		}
	}
	return &runtimeapi.Metric{Name: name, Timestamp: ts, MetricType: typ, LabelValues: labels, Value: &runtimeapi.UInt64Value{Value: v}}
}
