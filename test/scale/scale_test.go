// Package scale holds `make bench-scale`: a full node (250 pods of two
// containers) under a kubelet-like poller, for minutes. It is not part of
// `make test` or `make bench`.
package scale

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

const image = "registry.k8s.io/scale/busybox:1"

// The containers' command: a shell that exits with 3 on SIGTERM, so that
// `kill 1` from inside ends it.
var command = []string{"sh", "-c", "trap 'exit 3' TERM; sleep 3600 & wait"}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// node is the daemon under test and what runs on it.
type node struct {
	b   *testing.B
	d   *framework.Daemon
	ctx context.Context
	dir string

	mu   sync.Mutex
	pods []string
	ctrs []string
}

func (n *node) startPod(i int) {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("scale-%d", i), Namespace: "scale", Uid: fmt.Sprintf("uid-%d", i)},
		Hostname:     fmt.Sprintf("scale-%d", i),
		LogDirectory: n.dir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
	pod, err := n.d.Runtime.RunPodSandbox(n.ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		n.b.Error(err)
		return
	}
	var ids []string
	for j := range 2 {
		c, err := n.d.Runtime.CreateContainer(n.ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, SandboxConfig: cfg, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c%d", j)},
			Image:    &runtimeapi.ImageSpec{Image: image},
			Command:  command,
			LogPath:  fmt.Sprintf("%d-%d.log", i, j),
			Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
			}},
		}})
		if err != nil {
			n.b.Error(err)
			return
		}
		if _, err := n.d.Runtime.StartContainer(n.ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			n.b.Error(err)
			return
		}
		ids = append(ids, c.ContainerId)
	}
	n.mu.Lock()
	n.pods = append(n.pods, pod.PodSandboxId)
	n.ctrs = append(n.ctrs, ids...)
	n.mu.Unlock()
}

// parallel runs fn(i) for i in [from, to) with 10 at a time.
func parallel(from, to int, fn func(int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				fn(i)
			}
		}()
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
}

// relist times one kubelet relist: ListPodSandbox and ListContainers.
func (n *node) relist() time.Duration {
	t0 := time.Now()
	if _, err := n.d.Runtime.ListPodSandbox(n.ctx, &runtimeapi.ListPodSandboxRequest{}); err != nil {
		n.b.Fatal(err)
	}
	if _, err := n.d.Runtime.ListContainers(n.ctx, &runtimeapi.ListContainersRequest{}); err != nil {
		n.b.Fatal(err)
	}
	return time.Since(t0)
}

// cpuTicks reads the user and system time of pid, in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

const clockTicks = 100 // USER_HZ

// BenchmarkScale starts SCALE_PODS pods (250) of two containers each at
// parallelism 10, timing relists at 50, 100 and all pods; polls them as a
// kubelet does for SCALE_DURATION (5m): every second ListPodSandbox,
// ListContainers and ContainerStatus of each, every 10 s
// ListPodSandboxStats, ListContainerStats and ImageFsInfo, with
// GetContainerEvents open, while 10 % of the containers are ended from
// inside; then tears everything down. It reports the start time, the
// daemon's CPU share and RSS over the poll (after its first fifth) and
// with as many calls a second that do nothing (Version), each
// RPC's latency, the delay from each exit to its event, and the teardown
// time, and checks that every exit was reported exactly once.
func BenchmarkScale(b *testing.B) {
	pods := envInt("SCALE_PODS", 250)
	duration := envDuration("SCALE_DURATION", 5*time.Minute)
	reg := framework.StartRegistry(b)
	reg.Push(b, "scale/busybox:1", framework.BuildImage(b, framework.ImageSpec{Cmd: []string{"sh"}}))
	d := framework.StartDaemon(b, framework.WithBridgeNetwork(), framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io")),
		// As a node runs it: polled RPCs are not logged.
		framework.WithConfig(func(c *config.Config) { c.Log.Level = "info" }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}}); err != nil {
		b.Fatal(err)
	}
	n := &node{b: b, d: d, ctx: ctx, dir: b.TempDir()}

	var evMu sync.Mutex
	stopped := map[string][]time.Time{}
	counting := true
	d.WatchStopped(ctx, func(id string, at time.Time) {
		evMu.Lock()
		if counting {
			stopped[id] = append(stopped[id], at)
		}
		evMu.Unlock()
	})

	// Start, with relists timed at each step.
	var startTime time.Duration
	relists := map[int]*framework.Samples{}
	started := 0
	for _, step := range []int{50, 100, pods} {
		if step > pods || step <= started {
			continue
		}
		t0 := time.Now()
		parallel(started, step, n.startPod)
		startTime += time.Since(t0)
		started = step
		if b.Failed() {
			b.FailNow()
		}
		// Spread over 3 s, so that a burst of the daemon's background
		// work (its first look at the new containers) moves the median
		// little.
		s := &framework.Samples{}
		for range 30 {
			s.Add(n.relist())
			time.Sleep(100 * time.Millisecond)
		}
		relists[step] = s
	}

	// The floor: what the same number of calls costs when each does
	// nothing (Version), over 20 s. The poll's CPU less this is cria's.
	floor := func() float64 {
		pid := d.PID()
		var from int64
		var at time.Time
		begin := time.Now()
		for tick := 0; tick < 20; tick++ {
			if tick == 4 {
				from, at = cpuTicks(b, pid), time.Now()
			}
			for range 2 + 2*len(n.pods) {
				if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
					b.Fatal(err)
				}
			}
			time.Sleep(time.Until(begin.Add(time.Duration(tick+1) * time.Second)))
		}
		return float64(cpuTicks(b, pid)-from) / clockTicks / time.Since(at).Seconds()
	}()

	// Poll.
	rpcs := map[string]*framework.Samples{}
	timed := func(name string, fn func() error) {
		t0 := time.Now()
		if err := fn(); err != nil {
			b.Errorf("%s: %v", name, err)
		}
		s := rpcs[name]
		if s == nil {
			s = &framework.Samples{}
			rpcs[name] = s
		}
		s.Add(time.Since(t0))
	}
	victims := n.ctrs[:0:0]
	for i := 0; i < len(n.ctrs); i += 10 {
		victims = append(victims, n.ctrs[i])
	}
	killEvery := duration * 4 / 5 / time.Duration(len(victims)+1)
	pid := d.PID()
	var cpuFrom int64
	var cpuAt time.Time
	maxRSS := 0
	begin := time.Now()
	nextKill, killed := begin.Add(duration/5), 0
	for tick := 0; time.Since(begin) < duration; tick++ {
		next := begin.Add(time.Duration(tick+1) * time.Second)
		if cpuAt.IsZero() && time.Since(begin) >= duration/5 {
			cpuFrom, cpuAt = cpuTicks(b, pid), time.Now()
		}
		timed("ListPodSandbox", func() error {
			_, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
			return err
		})
		var list *runtimeapi.ListContainersResponse
		timed("ListContainers", func() (err error) {
			list, err = d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
			return err
		})
		for _, c := range list.GetContainers() {
			timed("ContainerStatus", func() error {
				_, err := d.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
				return err
			})
		}
		if tick%10 == 0 {
			timed("ListPodSandboxStats", func() error {
				_, err := d.Runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
				return err
			})
			timed("ListContainerStats", func() error {
				_, err := d.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
				return err
			})
			timed("ImageFsInfo", func() error {
				_, err := d.Images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
				return err
			})
			if rss, _ := framework.ProcessMemory(b, pid); rss > maxRSS {
				maxRSS = rss
			}
		}
		for killed < len(victims) && time.Now().After(nextKill) {
			if _, err := d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: victims[killed], Cmd: []string{"kill", "1"}, Timeout: 10}); err != nil {
				b.Errorf("ending %s from inside: %v", victims[killed], err)
			}
			killed++
			nextKill = nextKill.Add(killEvery)
		}
		time.Sleep(time.Until(next))
	}
	cpu := float64(cpuTicks(b, pid)-cpuFrom) / clockTicks / time.Since(cpuAt).Seconds()
	rss, _ := framework.ProcessMemory(b, pid)
	time.Sleep(2 * time.Second) // the last exits' events
	evMu.Lock()
	counting = false
	var delays framework.Samples
	for _, id := range victims[:killed] {
		st, err := d.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Status.ExitCode != 3 {
			b.Errorf("container %s ended from inside: %v %v", id, st.GetStatus(), err)
			continue
		}
		if got := len(stopped[id]); got != 1 {
			b.Errorf("container %s: %d STOPPED events, want 1", id, got)
			continue
		}
		delays.Add(stopped[id][0].Sub(time.Unix(0, st.Status.FinishedAt)))
	}
	for id, ts := range stopped {
		if !contains(victims[:killed], id) {
			b.Errorf("a STOPPED event for %s, which no one ended (%d)", id, len(ts))
		}
	}
	evMu.Unlock()

	t0 := time.Now()
	parallel(0, len(n.pods), func(i int) {
		id := n.pods[i]
		if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			b.Error(err)
		}
		if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			b.Error(err)
		}
	})
	teardown := time.Since(t0)

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	per10 := startTime / time.Duration(pods/10)
	b.ReportMetric(ms(per10), "start-per-10-pods-ms")
	b.ReportMetric(cpu*100, "daemon-cpu-%")
	b.ReportMetric(floor*100, "version-calls-cpu-%")
	b.ReportMetric(float64(rss)/1024, "daemon-rss-MiB")
	b.ReportMetric(ms(rpcs["ListContainers"].Percentile(99)), "ListContainers-p99-ms")
	b.ReportMetric(ms(rpcs["ListPodSandboxStats"].Percentile(99)), "ListPodSandboxStats-p99-ms")
	b.ReportMetric(ms(delays.Percentile(99)), "exit-to-event-p99-ms")
	b.ReportMetric(ms(teardown), "teardown-ms")
	b.Logf("%d pods, %d containers; started in %s (%.0f ms per 10 pods); torn down in %s", pods, 2*pods, startTime.Round(time.Millisecond), ms(per10), teardown.Round(time.Millisecond))
	b.Logf("steady state over %s: daemon CPU %.2f %% of one core, RSS %.1f MiB (max %.1f MiB)", time.Since(cpuAt).Round(time.Second), cpu*100, float64(rss)/1024, float64(maxRSS)/1024)
	b.Logf("the same number of Version calls a second (%d), nothing else: daemon CPU %.2f %% of one core", 2+2*len(n.pods), floor*100)
	for _, step := range []int{50, 100, pods} {
		if s := relists[step]; s != nil {
			b.Logf("relist (ListPodSandbox + ListContainers) with %d pods: median %.2f ms, p90 %.2f ms", step, ms(s.Percentile(50)), ms(s.Percentile(90)))
		}
	}
	for _, name := range []string{"ListPodSandbox", "ListContainers", "ContainerStatus", "ListPodSandboxStats", "ListContainerStats", "ImageFsInfo"} {
		if s := rpcs[name]; s != nil {
			b.Logf("%s: p50 %.2f ms, p99 %.2f ms (%d calls)", name, ms(s.Percentile(50)), ms(s.Percentile(99)), s.Len())
		}
	}
	b.Logf("exit to event, %d containers ended from inside: p50 %.1f ms, p99 %.1f ms; each reported once", delays.Len(), ms(delays.Percentile(50)), ms(delays.Percentile(99)))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
