package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

const benchImage = "registry.k8s.io/bench/busybox:1"

// benchLogDir is the pods' log directory, inside the benchmark's daemon
// directory (removed with it); containerDaemon sets it.
var benchLogDir string

func containerDaemon(b *testing.B) *framework.Daemon {
	reg := framework.StartRegistry(b)
	reg.Push(b, "bench/busybox:1", framework.BuildImage(b, framework.ImageSpec{Cmd: []string{"sh"}}))
	d := framework.StartDaemon(b, framework.WithBridgeNetwork(), framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io")))
	if _, err := d.Images.PullImage(context.Background(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: benchImage}}); err != nil {
		b.Fatal(err)
	}
	benchLogDir = filepath.Join(d.Dir, "pod-logs")
	return d
}

func benchPodConfig(i int) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("bench-%d", i), Namespace: "bench", Uid: fmt.Sprintf("uid-%d", i)},
		Hostname:     fmt.Sprintf("bench-%d", i),
		LogDirectory: benchLogDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
}

func benchContainerConfig(i int, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c-%d", i)},
		Image:    &runtimeapi.ImageSpec{Image: benchImage},
		Command:  cmd,
		LogPath:  fmt.Sprintf("c-%d.log", i),
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
}

// BenchmarkContainerLifecycle measures each container RPC over b.N rounds
// (make bench: 20) of a `sleep` container in one pod, and the monitor's
// memory per running container.
func BenchmarkContainerLifecycle(b *testing.B) {
	d := containerDaemon(b)
	ctx := context.Background()
	podCfg := benchPodConfig(0)
	pod, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		b.Fatal(err)
	}
	var create, start, stop, remove framework.Samples
	var rss, pss, initRSS int
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		// A container that ends on SIGTERM (a bare sleep, as PID 1 of its
		// namespace, would ignore it and wait out the timeout), and says
		// when its trap is set.
		cfg := benchContainerConfig(i, "sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 3600 & wait")
		c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, Config: cfg, SandboxConfig: podCfg})
		if err != nil {
			b.Fatal(err)
		}
		create.Add(time.Since(t0))
		if i == 0 {
			// A created container's init waits for the start.
			initRSS, _ = framework.ProcessMemory(b, verbosePid(b, d, c.ContainerId, `"pid":`))
		}
		t0 = time.Now()
		if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
		start.Add(time.Since(t0))
		if i == 0 {
			rss, pss = framework.ProcessMemory(b, verbosePid(b, d, c.ContainerId, `"monitorPid":`))
		}
		// StartContainer returns once the command runs, as containerd's
		// does: before the shell has set its trap, a SIGTERM would be
		// ignored.
		waitForLog(b, filepath.Join(benchLogDir, cfg.LogPath), "ready")
		t0 = time.Now()
		if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.ContainerId, Timeout: 10}); err != nil {
			b.Fatal(err)
		}
		stop.Add(time.Since(t0))
		t0 = time.Now()
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
		remove.Add(time.Since(t0))
	}
	for _, m := range []struct {
		name string
		s    *framework.Samples
	}{{"create", &create}, {"start", &start}, {"stop", &stop}, {"remove", &remove}} {
		b.ReportMetric(float64(m.s.Percentile(50).Microseconds())/1000, m.name+"-median-ms")
	}
	b.ReportMetric(float64(rss), "monitor-rss-KiB")
	b.ReportMetric(float64(pss), "monitor-pss-KiB")
	b.ReportMetric(float64(initRSS), "created-init-rss-KiB")
	removePod(b, d, pod.PodSandboxId)
}

// waitForLog waits until the log file at path holds want.
func waitForLog(b *testing.B, path, want string) {
	b.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if data, _ := os.ReadFile(path); strings.Contains(string(data), want) {
			return
		}
	}
	b.Fatalf("%s never held %q", path, want)
}

// BenchmarkPodAndContainerFromScratch measures RunPodSandbox, then
// CreateContainer and StartContainer of a container that runs `true`.
func BenchmarkPodAndContainerFromScratch(b *testing.B) {
	d := containerDaemon(b)
	ctx := context.Background()
	var total framework.Samples
	for i := 0; i < b.N; i++ {
		podCfg := benchPodConfig(i)
		t0 := time.Now()
		pod, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
		if err != nil {
			b.Fatal(err)
		}
		c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, Config: benchContainerConfig(i, "true"), SandboxConfig: podCfg})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
		total.Add(time.Since(t0))
		removePod(b, d, pod.PodSandboxId)
	}
	total.Report(b)
}

// BenchmarkDaemonRSSWith50Pods reports the daemon's memory with 0 and then
// 50 pods, each running one container, and ListContainerStats latency over
// those 50 (samples cached for a second, so most calls read no cgroup).
func BenchmarkDaemonRSSWith50Pods(b *testing.B) {
	d := containerDaemon(b)
	ctx := context.Background()
	rss0, _ := framework.ProcessMemory(b, d.PID())
	var pods []string
	for i := 0; i < 50; i++ {
		pod, _ := startPodWithContainer(b, d, i, "sleep", "3600")
		pods = append(pods, pod)
	}
	var listStats framework.Samples
	for i := 0; i < b.N; i++ {
		stop := listStats.Start()
		resp, err := d.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
		stop()
		if err != nil || len(resp.Stats) != 50 {
			b.Fatalf("ListContainerStats: %d, %v", len(resp.GetStats()), err)
		}
	}
	b.ReportMetric(float64(listStats.Percentile(50).Microseconds())/1000, "list-stats-median-ms")
	b.ReportMetric(float64(listStats.Percentile(90).Microseconds())/1000, "list-stats-p90-ms")
	rss50, pss50 := framework.ProcessMemory(b, d.PID())
	b.ReportMetric(float64(rss0), "rss-0-pods-KiB")
	b.ReportMetric(float64(rss50), "rss-50-pods-KiB")
	b.ReportMetric(float64(pss50), "pss-50-pods-KiB")
	for _, p := range pods {
		removePod(b, d, p)
	}
}

// startPodWithContainer runs pod i with one started container running cmd
// and returns the pod's and the container's ids.
func startPodWithContainer(b *testing.B, d *framework.Daemon, i int, cmd ...string) (pod, ctr string) {
	ctx := context.Background()
	podCfg := benchPodConfig(i)
	p, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		b.Fatal(err)
	}
	c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p.PodSandboxId, Config: benchContainerConfig(i, cmd...), SandboxConfig: podCfg})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		b.Fatal(err)
	}
	return p.PodSandboxId, c.ContainerId
}

func removePod(b *testing.B, d *framework.Daemon, id string) {
	ctx := context.Background()
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		b.Fatal(err)
	}
}

// verbosePid reads the pid that follows key in a container's verbose
// status ("pid" for its init, "monitorPid" for its monitor).
func verbosePid(b *testing.B, d *framework.Daemon, id, key string) int {
	b.Helper()
	st, err := d.Runtime.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		b.Fatal(err)
	}
	info := st.Info["info"]
	var pid int
	if i := indexOf(info, key); i >= 0 {
		fmt.Sscanf(info[i+len(key):], "%d", &pid)
	}
	if pid <= 0 {
		b.Fatalf("no %s in %s", key, info)
	}
	return pid
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// BenchmarkExecSync measures `ExecSync true` in a running container.
func BenchmarkExecSync(b *testing.B) {
	d := containerDaemon(b)
	ctx := context.Background()
	pod, ctr := startPodWithContainer(b, d, 0, "sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait")
	var samples framework.Samples
	for i := 0; i < b.N; i++ {
		stop := samples.Start()
		resp, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctr, Cmd: []string{"true"}})
		stop()
		if err != nil || resp.ExitCode != 0 {
			b.Fatalf("ExecSync: %v %v", resp, err)
		}
	}
	samples.Report(b)
	removePod(b, d, pod)
}

// BenchmarkPodAndContainerUserNamespace measures what
// BenchmarkPodAndContainerFromScratch does, a pod with a user namespace of
// its own (hostUsers: false: IDs 0–65535 mapped onto a range of the
// host's) beside one without, in turns in the same daemon, and reports
// both medians and their ratio.
func BenchmarkPodAndContainerUserNamespace(b *testing.B) {
	d := containerDaemon(b)
	ctx := context.Background()
	var host, userns framework.Samples
	for i := 0; i < 2*b.N; i++ {
		podCfg := benchPodConfig(i)
		ctrCfg := benchContainerConfig(i, "true")
		samples := &host
		if i%2 == 1 {
			m := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: uint32(100000 + 65536*(i%8)), Length: 65536}}
			u := &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m, Gids: m}
			podCfg.Linux.SecurityContext.NamespaceOptions.UsernsOptions = u
			ctrCfg.Linux.SecurityContext.NamespaceOptions.UsernsOptions = u
			samples = &userns
		}
		t0 := time.Now()
		pod, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
		if err != nil {
			b.Fatal(err)
		}
		c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, Config: ctrCfg, SandboxConfig: podCfg})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
		samples.Add(time.Since(t0))
		removePod(b, d, pod.PodSandboxId)
	}
	h, u := host.Percentile(50), userns.Percentile(50)
	b.ReportMetric(float64(h.Microseconds())/1000, "host-median-ms")
	b.ReportMetric(float64(u.Microseconds())/1000, "userns-median-ms")
	b.ReportMetric(float64(u)/float64(h), "userns/host")
}

// BenchmarkExitToEvent measures how long after a container's init dies
// (killed from the host) its STOPPED event reaches a GetContainerEvents
// subscriber.
func BenchmarkExitToEvent(b *testing.B) {
	d := containerDaemon(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	podCfg := benchPodConfig(0)
	pod, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		b.Fatal(err)
	}
	defer removePod(b, d, pod.PodSandboxId)
	stopped := make(chan string, 16)
	d.WatchStopped(ctx, func(id string, _ time.Time) { stopped <- id })
	var samples framework.Samples
	for i := 0; i < b.N; i++ {
		c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, Config: benchContainerConfig(i, "sleep", "3600"), SandboxConfig: podCfg})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
		pid := verbosePid(b, d, c.ContainerId, `"pid":`)
		t0 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		for id := range stopped {
			if id == c.ContainerId {
				break
			}
		}
		samples.Add(time.Since(t0))
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.ContainerId}); err != nil {
			b.Fatal(err)
		}
	}
	samples.Report(b)
	b.ReportMetric(float64(samples.Percentile(99).Microseconds())/1000, "p99-ms")
}
