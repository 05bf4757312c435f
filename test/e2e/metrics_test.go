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
		// Burn a little over a second of CPU, then idle.
		c.Command = []string{"sh", "-c", "i=0; end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do i=$((i+1)); done; sleep 3600"}
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20}
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
	for _, d := range desc.Descriptors {
		keys[d.Name] = len(d.LabelKeys)
	}
	for _, want := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_network_receive_bytes_total"} {
		if keys[want] == 0 {
			t.Errorf("descriptor %s missing", want)
		}
	}
	resp, err := e.d.Runtime.ListPodSandboxMetrics(ctxT(t), &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil || len(resp.PodMetrics) != 1 {
		t.Fatalf("ListPodSandboxMetrics = %v, %v; want one pod", resp.GetPodMetrics(), err)
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
	for _, m := range pm.ContainerMetrics[0].Metrics {
		check(m)
		if m.Name == "container_cpu_usage_seconds_total" && m.MetricType != runtimeapi.MetricType_COUNTER {
			t.Errorf("cpu usage is not a counter")
		}
	}
	if values["container_cpu_usage_seconds_total"] < 1 || values["container_memory_working_set_bytes"] == 0 ||
		values["container_spec_memory_limit_bytes"] != 64<<20 || values["container_network_receive_bytes_total"] == 0 {
		t.Errorf("metric values = %v", values)
	}
}
