package e2e

import (
	"net"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestMetrics(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		// Burn CPU for two to three seconds of wall time (more than a
		// second of CPU even on a loaded machine), then idle.
		c.Command = []string{"sh", "-c", "i=0; end=$(($(date +%s)+3)); while [ $(date +%s) -lt $end ]; do i=$((i+1)); done; sleep 3600"}
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, CpuPeriod: 50000, CpuQuota: 200000, CpuShares: 512}
	})
	e.start(t, id)
	st, _ := podStatus(t, e.d, e.pod)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(st.Network.Ip, "9"), 200*time.Millisecond); err == nil {
		c.Close()
	}
	time.Sleep(2500 * time.Millisecond)

	desc, err := e.d.Runtime.ListMetricDescriptors(ctxT(t), &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	labelKeys := map[string][]string{}
	for _, d := range desc.Descriptors {
		keys[d.Name] = len(d.LabelKeys)
		labelKeys[d.Name] = d.LabelKeys
	}
	for _, want := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_network_receive_bytes_total"} {
		if keys[want] == 0 {
			t.Errorf("descriptor %s missing", want)
		}
	}
	// CPU seconds are whole: wait (15 s at most) for the first one.
	var resp *runtimeapi.ListPodSandboxMetricsResponse
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		resp, err = e.d.Runtime.ListPodSandboxMetrics(ctxT(t), &runtimeapi.ListPodSandboxMetricsRequest{})
		if err != nil || len(resp.PodMetrics) != 1 {
			t.Fatalf("ListPodSandboxMetrics = %v, %v; want one pod", resp.GetPodMetrics(), err)
		}
		if cpuSeconds(resp.PodMetrics[0]) >= 1 || time.Now().After(deadline) {
			break
		}
	}
	pm := resp.PodMetrics[0]
	values := map[string]uint64{}
	check := func(m *runtimeapi.Metric) {
		n, ok := keys[m.Name]
		if !ok {
			t.Errorf("metric %s has no descriptor", m.Name)
		} else if len(m.LabelValues) != n {
			t.Errorf("metric %s has %d label values for %d keys", m.Name, len(m.LabelValues), n)
		}
		values[m.Name] = m.Value.GetValue()
	}
	for _, m := range pm.Metrics {
		check(m)
	}
	if len(pm.ContainerMetrics) != 1 || pm.ContainerMetrics[0].ContainerId != id {
		t.Fatalf("container metrics = %v", pm.ContainerMetrics)
	}
	// Series are selected by the names in the pod spec, as cadvisor's.
	wantLabels := map[string]string{
		"container": e.status(t, id).Metadata.Name, "id": id,
		"pod": e.podCfg.Metadata.Name, "namespace": e.podCfg.Metadata.Namespace,
	}
	for _, m := range pm.ContainerMetrics[0].Metrics {
		check(m)
		for i, k := range labelKeys[m.Name] {
			if want, ok := wantLabels[k]; ok && i < len(m.LabelValues) && m.LabelValues[i] != want {
				t.Errorf("metric %s: label %s = %q, want %q", m.Name, k, m.LabelValues[i], want)
			}
		}
		if m.Name == "container_cpu_usage_seconds_total" && m.MetricType != runtimeapi.MetricType_COUNTER {
			t.Errorf("cpu usage is not a counter")
		}
	}
	for name, ok := range map[string]bool{
		"container_cpu_usage_seconds_total": values["container_cpu_usage_seconds_total"] >= 1,
		// Whole seconds each: each part may round down by almost one.
		"container_cpu_user_seconds_total":         values["container_cpu_user_seconds_total"]+values["container_cpu_system_seconds_total"]+2 >= values["container_cpu_usage_seconds_total"],
		"container_cpu_cfs_periods_total":          values["container_cpu_cfs_periods_total"] > 0,
		"container_memory_working_set_bytes":       values["container_memory_working_set_bytes"] > 0,
		"container_spec_memory_limit_bytes":        values["container_spec_memory_limit_bytes"] == 64<<20,
		"container_spec_cpu_period":                values["container_spec_cpu_period"] == 50000,
		"container_spec_cpu_shares":                values["container_spec_cpu_shares"] == 512,
		"container_threads":                        values["container_threads"] >= 1,
		"container_file_descriptors":               values["container_file_descriptors"] >= 3,
		"container_start_time_seconds":             time.Since(time.Unix(int64(values["container_start_time_seconds"]), 0)) < time.Minute,
		"container_network_receive_bytes_total":    values["container_network_receive_bytes_total"] > 0,
		"container_network_transmit_packets_total": values["container_network_transmit_packets_total"] > 0,
	} {
		if !ok {
			t.Errorf("%s = %d (all: %v)", name, values[name], values)
		}
	}
	for _, d := range desc.Descriptors {
		if _, ok := values[d.Name]; !ok && !optionalMetric[d.Name] {
			t.Errorf("descriptor %s has no metric", d.Name)
		}
	}
}

// optionalMetric are the metrics that only some machines can report: block
// I/O accounting depends on the device under the container's filesystem.
var optionalMetric = map[string]bool{
	"container_blkio_device_usage_total": true,
	"container_fs_reads_bytes_total":     true,
	"container_fs_writes_bytes_total":    true,
	"container_fs_reads_total":           true,
	"container_fs_writes_total":          true,
}

// cpuSeconds is the container_cpu_usage_seconds_total of a pod's only
// container, or 0.
func cpuSeconds(pm *runtimeapi.PodSandboxMetrics) uint64 {
	for _, c := range pm.ContainerMetrics {
		for _, m := range c.Metrics {
			if m.Name == "container_cpu_usage_seconds_total" {
				return m.Value.GetValue()
			}
		}
	}
	return 0
}
