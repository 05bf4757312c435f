package bench

import (
	"context"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

// BenchmarkDaemonStart measures a cold start: exec of cria to the first
// answered Version on its socket.
func BenchmarkDaemonStart(b *testing.B) {
	d := framework.NewDaemon(b)
	var samples framework.Samples
	for i := 0; i < b.N; i++ {
		stop := samples.Start()
		d.Start()
		stop()
		d.Stop()
	}
	samples.Report(b)
}

// BenchmarkVersion measures one CRI round trip through the interceptor.
func BenchmarkVersion(b *testing.B) {
	d := framework.StartDaemon(b)
	ctx := context.Background()
	var samples framework.Samples
	for i := 0; i < b.N; i++ {
		stop := samples.Start()
		if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
			b.Fatal(err)
		}
		stop()
	}
	samples.Report(b)
}

// BenchmarkIdleRSS reports the daemon's resident memory once serving and
// idle (after a few RPCs), in KiB.
func BenchmarkIdleRSS(b *testing.B) {
	d := framework.StartDaemon(b)
	for i := 0; i < b.N; i++ {
		if _, err := d.Runtime.Status(context.Background(), &runtimeapi.StatusRequest{Verbose: true}); err != nil {
			b.Fatal(err)
		}
	}
	rss, pss := framework.ProcessMemory(b, d.PID())
	b.ReportMetric(float64(rss), "rss-KiB")
	b.ReportMetric(float64(pss), "pss-KiB")
}
