package bench

import (
	"context"
	"fmt"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

// benchmarkSandboxes measures RunPodSandbox, and StopPodSandbox followed by
// RemovePodSandbox, for b.N pods (run `make bench`: 50).
func benchmarkSandboxes(b *testing.B, hostNetwork bool, opts ...framework.DaemonOption) {
	d := framework.StartDaemon(b, opts...)
	ctx := context.Background()
	var run, remove framework.Samples
	ids := make([]string, 0, b.N)
	for i := 0; i < b.N; i++ {
		cfg := &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("bench-%d", i), Namespace: "bench", Uid: fmt.Sprintf("uid-%d", i)},
			Hostname: fmt.Sprintf("bench-%d", i),
			// The kubelet's default: no shared PID namespace (the CRI's zero
			// value, POD, would start a pause process).
			Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			}},
		}
		if hostNetwork {
			cfg.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
		}
		stop := run.Start()
		resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
		stop()
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, resp.PodSandboxId)
	}
	for _, id := range ids {
		stop := remove.Start()
		if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			b.Fatal(err)
		}
		stop()
	}
	b.ReportMetric(float64(run.Percentile(50).Microseconds())/1000, "run-median-ms")
	b.ReportMetric(float64(run.Percentile(90).Microseconds())/1000, "run-p90-ms")
	b.ReportMetric(float64(remove.Percentile(50).Microseconds())/1000, "stop+rm-median-ms")
	b.ReportMetric(float64(remove.Percentile(90).Microseconds())/1000, "stop+rm-p90-ms")
}

// BenchmarkSandboxBridge: pods with their own namespaces on a CNI bridge.
func BenchmarkSandboxBridge(b *testing.B) {
	benchmarkSandboxes(b, false, framework.WithBridgeNetwork())
}

// BenchmarkSandboxHostNetwork: pods on the host's network (no CNI).
func BenchmarkSandboxHostNetwork(b *testing.B) { benchmarkSandboxes(b, true) }
