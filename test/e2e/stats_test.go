package e2e

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

func TestStats(t *testing.T) {
	// Writable layers are measured every second instead of ten.
	e := newContainerEnvWith(t, []framework.DaemonOption{framework.WithConfig(func(c *config.Config) { c.StatsCollectPeriod = "1s" })})
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}
		c.Labels = map[string]string{"tier": "stats"}
	})
	other := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
	e.start(t, id)
	e.start(t, other)
	stats := func() *runtimeapi.ContainerStats {
		resp, err := e.d.Runtime.ContainerStats(ctxT(t), &runtimeapi.ContainerStatsRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Stats
	}
	before := stats()
	if before.GetMemory().GetWorkingSetBytes() == nil || before.GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 || before.GetWritableLayer().GetFsId().GetMountpoint() == "" {
		t.Fatalf("stats lack cpu, memory or writable layer: %v", before)
	}
	// 40 MiB into the pod's /dev/shm: shmem charged to this container.
	if _, err := e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", "head -c 41943040 /dev/zero > /dev/shm/fill; echo x > /grow"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the sample cache
	after := stats()
	if grew := int64(after.Memory.WorkingSetBytes.Value) - int64(before.Memory.WorkingSetBytes.Value); grew < 35<<20 {
		t.Errorf("working set grew by %d bytes after filling 40 MiB, want ≥ 35 MiB", grew)
	}
	// The new file is in the layer's next measurement.
	for deadline := time.Now().Add(5 * time.Second); after.WritableLayer.InodesUsed.Value <= before.WritableLayer.InodesUsed.Value && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		after = stats()
	}
	if after.WritableLayer.InodesUsed.Value <= before.WritableLayer.InodesUsed.Value {
		t.Errorf("writable layer inodes %d → %d after creating a file", before.WritableLayer.InodesUsed.Value, after.WritableLayer.InodesUsed.Value)
	}

	// The image filesystem counts containers' writable layers as their
	// own measurements last found them.
	imageFsUsed := func() uint64 {
		resp, err := e.d.Images.ImageFsInfo(ctxT(t), &runtimeapi.ImageFsInfoRequest{})
		if err != nil || len(resp.ImageFilesystems) != 1 {
			t.Fatalf("ImageFsInfo = %v, %v", resp, err)
		}
		return resp.ImageFilesystems[0].UsedBytes.GetValue()
	}
	usedBefore := imageFsUsed()
	if _, err := e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", "head -c 8388608 /dev/urandom > /big"}}); err != nil {
		t.Fatal(err)
	}
	usedAfter := imageFsUsed()
	for deadline := time.Now().Add(20 * time.Second); usedAfter < usedBefore+8<<20 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		usedAfter = imageFsUsed()
	}
	if usedAfter < usedBefore+8<<20 {
		t.Errorf("image filesystem used %d → %d bytes after an 8 MiB file in a writable layer", usedBefore, usedAfter)
	}

	list := func(f *runtimeapi.ContainerStatsFilter) int {
		resp, err := e.d.Runtime.ListContainerStats(ctxT(t), &runtimeapi.ListContainerStatsRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Stats)
	}
	for _, tc := range []struct {
		name string
		f    *runtimeapi.ContainerStatsFilter
		want int
	}{
		{"all", nil, 2},
		{"by id", &runtimeapi.ContainerStatsFilter{Id: id}, 1},
		{"by pod", &runtimeapi.ContainerStatsFilter{PodSandboxId: e.pod}, 2},
		{"by label", &runtimeapi.ContainerStatsFilter{LabelSelector: map[string]string{"tier": "stats"}}, 1},
		{"other pod", &runtimeapi.ContainerStatsFilter{PodSandboxId: strings.Repeat("0", 64)}, 0},
	} {
		if got := list(tc.f); got != tc.want {
			t.Errorf("ListContainerStats %s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// Pod stats: the sum of its containers, and its network counters.
	st, _ := podStatus(t, e.d, e.pod)
	for i := 0; i < 3; i++ {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(st.Network.Ip, "9"), 200*time.Millisecond); err == nil {
			c.Close()
		}
	}
	resp, err := e.d.Runtime.PodSandboxStats(ctxT(t), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: e.pod})
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.Stats.Linux
	if len(ps.Containers) != 2 || ps.Memory.WorkingSetBytes.Value < after.Memory.WorkingSetBytes.Value || ps.Process.ProcessCount.Value < 2 {
		t.Errorf("pod stats: %d containers, working set %d, processes %d", len(ps.Containers), ps.Memory.WorkingSetBytes.Value, ps.Process.ProcessCount.Value)
	}
	if ps.Network == nil || ps.Network.DefaultInterface.GetName() != "eth0" || ps.Network.DefaultInterface.RxBytes.Value == 0 {
		t.Errorf("pod network stats = %v, want eth0 with received bytes", ps.Network)
	}
	lp, err := e.d.Runtime.ListPodSandboxStats(ctxT(t), &runtimeapi.ListPodSandboxStatsRequest{})
	if err != nil || len(lp.Stats) != 1 {
		t.Errorf("ListPodSandboxStats = %v, %v", lp.GetStats(), err)
	}
	// Enough pods for several workers to read them: each pod once, with
	// its own containers, and the filter still applies.
	more := map[string]int{e.pod: 2}
	var last *runtimeapi.PodSandboxConfig
	for range 2*runtime.NumCPU() + 1 {
		last = podConfig()
		id := runPod(t, e.d, last)
		more[id] = 0
		t.Cleanup(func() {
			e.d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
			e.d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
		})
	}
	lp, err = e.d.Runtime.ListPodSandboxStats(ctxT(t), &runtimeapi.ListPodSandboxStatsRequest{})
	seen := map[string]bool{}
	for _, ps := range lp.GetStats() {
		id := ps.Attributes.Id
		if want, ok := more[id]; !ok || seen[id] || len(ps.Linux.Containers) != want {
			t.Errorf("ListPodSandboxStats of %d pods: pod %s (known %v, seen before %v) with %d containers, want %d", len(more), id, ok, seen[id], len(ps.Linux.Containers), want)
		}
		seen[id] = true
	}
	if err != nil || len(seen) != len(more) {
		t.Errorf("ListPodSandboxStats of %d pods: %d (%v)", len(more), len(seen), err)
	}
	lp, err = e.d.Runtime.ListPodSandboxStats(ctxT(t), &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{
		LabelSelector: map[string]string{"n": last.Labels["n"]}}})
	if err != nil || len(lp.GetStats()) != 1 || lp.Stats[0].Attributes.Metadata.Name != last.Metadata.Name {
		t.Errorf("ListPodSandboxStats by label = %v, %v; want %s alone", lp.GetStats(), err, last.Metadata.Name)
	}

	if out := e.d.Crictl(t, "stats", id); !contains(out, id[:13]) || !contains(out, "MB") {
		t.Errorf("crictl stats:\n%s", out)
	}
	if out := e.d.Crictl(t, "statsp", e.pod); !contains(out, e.pod[:13]) {
		t.Errorf("crictl statsp:\n%s", out)
	}
}

// A pod whose network namespace has no interface but loopback (here its
// only plugin adds none; a pod between CNI's teardown and the release of
// its namespace is another) has no network usage: the kubelet reads the
// default interface of every usage that it is given.
func TestPodStatsWithoutInterfaces(t *testing.T) {
	d := pluginDaemon(t, "nointerfaces", "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"cniVersion\":\"1.0.0\"}'; fi\nexit 0\n",
		func(*framework.Daemon) string {
			return `{"cniVersion": "1.0.0", "name": "cria-test", "plugins": [{"type": "nointerfaces"}]}`
		})
	pod := runPod(t, d, podConfig())

	resp, err := d.Runtime.PodSandboxStats(ctxT(t), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: pod})
	if err != nil {
		t.Fatal(err)
	}
	if n := resp.Stats.GetLinux().GetNetwork(); n != nil {
		t.Errorf("network usage of a pod without interfaces = %v, want none", n)
	}
	if resp.Stats.GetLinux().GetMemory() == nil {
		t.Errorf("pod stats lack memory: %v", resp.Stats)
	}
	lp, err := d.Runtime.ListPodSandboxStats(ctxT(t), &runtimeapi.ListPodSandboxStatsRequest{})
	if err != nil || len(lp.Stats) != 1 || lp.Stats[0].GetLinux().GetNetwork() != nil {
		t.Errorf("ListPodSandboxStats = %v, %v; want one pod without network usage", lp.GetStats(), err)
	}
}
