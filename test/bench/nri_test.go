package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

// BenchmarkPodAndContainerNRI measures what
// BenchmarkPodAndContainerFromScratch does in one daemon three ways, in
// blocks of five, turn about: with NRI disabled, enabled with no plugin
// connected, and enabled with one plugin connected that subscribes to
// every event and does nothing (the e2e tests' plugin, -quiet). It
// reports the medians of pod + container, the cost of NRI without a
// plugin as a ratio, and what one plugin adds to RunPodSandbox and to a
// container's CreateContainer + StartContainer, in milliseconds.
func BenchmarkPodAndContainerNRI(b *testing.B) {
	d := containerDaemon(b)
	ctx := context.Background()
	plugin := filepath.Join(b.TempDir(), "nriplugin")
	if err := os.WriteFile(plugin, framework.BuildStatic(b, "../e2e/nriplugin"), 0o755); err != nil {
		b.Fatal(err)
	}
	const block = 5
	type samples struct{ total, pod, ctr framework.Samples }
	var off, idle, one samples
	modes := []struct {
		s      *samples
		enable bool
		plugin bool
	}{{&off, false, false}, {&idle, true, false}, {&one, true, true}}
	i := 0
	for one.total.Len() < b.N {
		for _, m := range modes {
			d.Stop()
			d.Config.NRI.Enable = m.enable
			d.WriteConfig()
			d.Start()
			var stop func()
			if m.plugin {
				stop = startBenchPlugin(b, plugin, d.Config.NRI.SocketPath)
			}
			for range block {
				i++
				podCfg := benchPodConfig(i)
				t0 := time.Now()
				pod, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, Config: benchContainerConfig(i, "true"), SandboxConfig: podCfg})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				m.s.total.Add(t2.Sub(t0))
				m.s.pod.Add(t1.Sub(t0))
				m.s.ctr.Add(t2.Sub(t1))
				removePod(b, d, pod.PodSandboxId)
			}
			if stop != nil {
				stop()
			}
		}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	o, n, p := off.total.Percentile(50), idle.total.Percentile(50), one.total.Percentile(50)
	b.ReportMetric(ms(o), "off-median-ms")
	b.ReportMetric(ms(n), "no-plugin-median-ms")
	b.ReportMetric(ms(p), "one-plugin-median-ms")
	b.ReportMetric(float64(n)/float64(o), "no-plugin/off")
	b.ReportMetric(ms(one.pod.Percentile(50)-idle.pod.Percentile(50)), "plugin-added-pod-ms")
	b.ReportMetric(ms(one.ctr.Percentile(50)-idle.ctr.Percentile(50)), "plugin-added-container-ms")
}

// startBenchPlugin starts the test plugin on socket, waits until it is
// synchronised, and returns what ends it.
func startBenchPlugin(b *testing.B, bin, socket string) (stop func()) {
	b.Helper()
	events := filepath.Join(b.TempDir(), "events")
	cmd := exec.Command(bin, "-socket", socket, "-events", events, "-quiet")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f, err := os.Open(events); err == nil {
			sc := bufio.NewScanner(f)
			synced := false
			for sc.Scan() {
				synced = synced || strings.Contains(sc.Text(), `"Synchronized"`)
			}
			f.Close()
			if synced {
				return stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatal("the NRI plugin did not connect in 30s")
		}
	}
}
