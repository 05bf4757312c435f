package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

// buildNRIPlugin builds the test plugin (./nriplugin) into the test's
// temporary directory (the build cache makes it cheap after the first).
func buildNRIPlugin(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "nriplugin")
	cmd := exec.Command("go", "build", "-o", out, "./nriplugin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the NRI test plugin: %v\n%s", err, b)
	}
	return out
}

// nriPlugin is a running test plugin and the file of its events.
type nriPlugin struct {
	cmd    *exec.Cmd
	events string
}

type nriEvent struct {
	Event     string `json:"event"`
	Pod       string `json:"pod"`
	PodID     string `json:"pod_id"`
	Container string `json:"container"`
	ID        string `json:"id"`
	State     string `json:"state"`
}

// startNRIPlugin starts the test plugin against d's NRI socket and waits
// until it is synchronised. It is killed (by PID) when the test ends.
func startNRIPlugin(t *testing.T, d *framework.Daemon, args ...string) *nriPlugin {
	t.Helper()
	bin := buildNRIPlugin(t)
	dir := t.TempDir()
	p := &nriPlugin{events: filepath.Join(dir, "events")}
	p.cmd = exec.Command(bin, append([]string{"-socket", d.Config.NRI.SocketPath, "-events", p.events}, args...)...)
	log, err := os.Create(filepath.Join(dir, "plugin.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-done
		log.Close()
	})
	p.waitFor(t, 1, func(e nriEvent) bool { return e.Event == "Synchronized" })
	return p
}

// kill ends the plugin with SIGKILL.
func (p *nriPlugin) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func (p *nriPlugin) read(t *testing.T) []nriEvent {
	t.Helper()
	f, err := os.Open(p.events)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []nriEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e nriEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("plugin event %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// waitFor waits (30 s at most) until n events match and returns them all.
func (p *nriPlugin) waitFor(t *testing.T, n int, match func(nriEvent) bool) []nriEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := p.read(t)
		got := 0
		for _, e := range evs {
			if match(e) {
				got++
			}
		}
		if got >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d matching NRI events after 30s, want %d; events: %+v", got, n, evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ofContainer lists the names of the events about container id, in order.
func ofContainer(evs []nriEvent, id string) []string {
	var out []string
	for _, e := range evs {
		if e.ID == id && e.Event != "SyncContainer" {
			out = append(out, e.Event)
		}
	}
	return out
}

// TestNRIAdjustments: what the test plugin adds to an adjust- container is
// in effect inside it and in its cgroup; an update it asks for unasked
// reaches a running container's cgroup; every lifecycle event reaches it
// once, in order, and a container that exits by itself is reported
// stopped before it is removed.
func TestNRIAdjustments(t *testing.T) {
	e := newContainerEnv(t)
	mountSrc := t.TempDir()
	if err := os.WriteFile(filepath.Join(mountSrc, "probe"), []byte("from-the-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startNRIPlugin(t, e.d, "-mount-src", mountSrc)
	var sock syscall.Stat_t
	if err := syscall.Stat(e.d.Config.NRI.SocketPath, &sock); err != nil || sock.Mode&0o777 != 0o600 || sock.Uid != 0 {
		t.Errorf("NRI socket: mode %#o, owner %d (%v); want 0600, root's", sock.Mode&0o777, sock.Uid, err)
	}

	const script = `echo env=$NRI_INJECTED; cat /nri-mount/probe; test -c /dev/nri-null && echo device; echo nofile=$(ulimit -n);
cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max
cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max`
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Metadata.Name = "adjust-1"
		c.Command = []string{"sh", "-c", script}
	})
	resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.Info["info"], `"nri.cria.test/adjusted":"yes"`) {
		t.Errorf("the plugin's annotation is not in the spec: %s", resp.Info["info"])
	}
	e.start(t, id)
	st := e.waitExited(t, id)
	out := strings.Join(logRecords(t, st.LogPath), "|")
	want := []string{"env=yes", "from-the-host", "device", "nofile=1000", "67108864"}
	for _, w := range want {
		if !strings.Contains(out, "stdout F "+w) {
			t.Errorf("container output %q lacks %q", out, w)
		}
	}
	if !strings.Contains(out, "stdout F 25000") && !strings.Contains(out, "stdout F 25000 100000") {
		t.Errorf("container output %q lacks the CPU quota 25000", out)
	}
	if st.ExitCode != 0 {
		t.Errorf("exit code %d, output %q", st.ExitCode, out)
	}
	evs := p.waitFor(t, 1, func(ev nriEvent) bool { return ev.ID == id && ev.Event == "StopContainer" })
	if got, want := ofContainer(evs, id), []string{"CreateContainer", "PostCreateContainer", "StartContainer", "PostStartContainer", "StopContainer"}; !slices.Equal(got, want) {
		t.Errorf("events of a container that exited by itself: %v, want %v", got, want)
	}
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	evs = p.waitFor(t, 1, func(ev nriEvent) bool { return ev.ID == id && ev.Event == "RemoveContainer" })
	if got := ofContainer(evs, id); len(got) != 6 || got[5] != "RemoveContainer" {
		t.Errorf("events after RemoveContainer: %v; want one StopContainer, then RemoveContainer", got)
	}

	t.Run("pod resources", func(t *testing.T) {
		if _, err := e.d.Runtime.UpdatePodSandboxResources(ctxT(t), &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: e.pod, Resources: &runtimeapi.LinuxContainerResources{CpuShares: 700}}); err != nil {
			t.Fatal(err)
		}
		evs := p.waitFor(t, 1, func(ev nriEvent) bool { return ev.PodID == e.pod && ev.Event == "PostUpdatePodSandbox" })
		var got []string
		for _, ev := range evs {
			if ev.PodID == e.pod && strings.Contains(ev.Event, "UpdatePodSandbox") {
				got = append(got, ev.Event)
			}
		}
		if want := []string{"UpdatePodSandbox cpu-shares=700", "PostUpdatePodSandbox"}; !slices.Equal(got, want) {
			t.Errorf("pod update events %v, want %v", got, want)
		}
	})

	t.Run("update asked by the plugin", func(t *testing.T) {
		id := e.create(t, func(c *runtimeapi.ContainerConfig) {
			c.Metadata.Name = "update-1"
			c.Command = []string{"sleep", "3600"}
		})
		e.start(t, id)
		p.waitFor(t, 1, func(ev nriEvent) bool {
			return ev.ID == id && strings.HasPrefix(ev.Event, "UpdateContainers failed=0 err=<nil>")
		})
		if got := memoryLimit(t, id); got != 96<<20 {
			t.Errorf("memory limit after the plugin's update: %d, want %d", got, 96<<20)
		}
		// A CRI update is shown to the plugin, then applied.
		if _, err := e.d.Runtime.UpdateContainerResources(ctxT(t), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id, Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 80 << 20}}); err != nil {
			t.Fatal(err)
		}
		p.waitFor(t, 1, func(ev nriEvent) bool { return ev.ID == id && ev.Event == "UpdateContainer" })
		if got := memoryLimit(t, id); got != 80<<20 {
			t.Errorf("memory limit after UpdateContainerResources: %d, want %d", got, 80<<20)
		}
		if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		evs := p.waitFor(t, 1, func(ev nriEvent) bool { return ev.ID == id && ev.Event == "StopContainer" })
		n := 0
		for _, ev := range ofContainer(evs, id) {
			if ev == "StopContainer" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("StopContainer sent %d times for a stopped container, want once", n)
		}
	})
}

// memoryLimit reads container id's memory limit from its cgroup.
func memoryLimit(t *testing.T, id string) int64 {
	t.Helper()
	for _, dir := range cgroupsOf(id) {
		for _, f := range []string{"memory.limit_in_bytes", "memory.max"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				var v int64
				if _, err := fmt.Sscan(string(b), &v); err == nil {
					return v
				}
			}
		}
	}
	t.Fatalf("no memory cgroup for %s in %v", id, cgroupsOf(id))
	return 0
}

// TestNRIPluginFailures: a plugin that refuses a container fails its
// CreateContainer and leaves nothing; one that hangs holds the call no
// longer than the request timeout; one killed in the middle of a call
// takes neither the call nor the daemon down.
func TestNRIPluginFailures(t *testing.T) {
	e := newContainerEnvWith(t, []framework.DaemonOption{framework.WithConfig(func(c *config.Config) { c.NRI.RequestTimeout = "1s" })})
	containersDir := filepath.Join(e.d.Config.RunRoot, "containers")
	entries := func() int {
		des, _ := os.ReadDir(containersDir)
		return len(des)
	}
	before := entries()

	t.Run("refused", func(t *testing.T) {
		p := startNRIPlugin(t, e.d)
		_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "fail-1"}, Image: &runtimeapi.ImageSpec{Image: busybox}, LogPath: "fail-1.log",
		}})
		if err == nil || !strings.Contains(err.Error(), "refuses fail-* containers") {
			t.Fatalf("CreateContainer refused by a plugin: %v, want the plugin's error", err)
		}
		list, err := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{})
		if err != nil || len(list.GetContainers()) != 0 {
			t.Errorf("containers after the refusal: %v (%v), want none", list.GetContainers(), err)
		}
		if n := entries(); n != before {
			t.Errorf("%d container directories after the refusal, %d before", n, before)
		}
		if _, err := os.Stat(filepath.Join(e.logDir, "fail-1.log")); !os.IsNotExist(err) {
			t.Errorf("the refused container's log file: %v, want none", err)
		}
		p.waitFor(t, 1, func(ev nriEvent) bool { return ev.Container == "fail-1" && ev.Event == "RemoveContainer" })
	})

	t.Run("hung past the timeout", func(t *testing.T) {
		startNRIPlugin(t, e.d)
		start := time.Now()
		id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Metadata.Name = "hang-1" })
		// The plugin holds the call for a minute; the request timeout is
		// a second.
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("CreateContainer took %s with a hung plugin and a 1s request timeout", took)
		}
		if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("killed in the middle of a call", func(t *testing.T) {
		p := startNRIPlugin(t, e.d)
		type result struct {
			id  string
			err error
		}
		res := make(chan result, 1)
		go func() {
			r, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "hang-2"}, Image: &runtimeapi.ImageSpec{Image: busybox}, LogPath: "hang-2.log",
			}})
			res <- result{r.GetContainerId(), err}
		}()
		p.waitFor(t, 1, func(ev nriEvent) bool { return ev.Container == "hang-2" && ev.Event == "CreateContainer" })
		p.kill(t)
		r := <-res
		if r.err != nil {
			t.Fatalf("CreateContainer while its plugin was killed: %v, want it made without the plugin", r.err)
		}
		if _, err := e.d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{}); err != nil {
			t.Fatalf("the daemon after a plugin was killed mid-call: %v", err)
		}
		out, code := e.runOnce(t, "echo alive", nil)
		if code != 0 || out != "stdout F alive" {
			t.Errorf("a container after the plugin was killed: exit %d, %q", code, out)
		}
		if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: r.id}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNRISynchronizeAndRestart: a plugin that connects after 20 pods exist
// is given all of them, with their containers; after kill -9 of the
// daemon, every container runs on, and the plugin, connecting again, is
// given them all again.
func TestNRISynchronizeAndRestart(t *testing.T) {
	e := newContainerEnv(t)
	pods := []string{e.pod}
	for range 19 {
		pods = append(pods, runPod(t, e.d, podConfig()))
	}
	t.Cleanup(func() {
		for _, id := range pods[1:] {
			removePod(t, e.d, id)
		}
	})
	ctr, pid, _ := e.startSleeper(t)

	p := startNRIPlugin(t, e.d, "-reconnect")
	checkSync := func(round int) {
		t.Helper()
		evs := p.waitFor(t, round, func(ev nriEvent) bool { return ev.Event == "Synchronized" })
		// The events of the round-th synchronisation.
		var synced []nriEvent
		for i, r := 0, 0; i < len(evs); i++ {
			if evs[i].Event == "Synchronized" {
				if r++; r == round {
					break
				}
				synced = nil
				continue
			}
			synced = append(synced, evs[i])
		}
		var gotPods []string
		ctrState := ""
		for _, ev := range synced {
			switch ev.Event {
			case "SyncPod":
				gotPods = append(gotPods, ev.PodID)
			case "SyncContainer":
				if ev.ID == ctr {
					ctrState = ev.State
				}
			}
		}
		for _, id := range pods {
			if !slices.Contains(gotPods, id) {
				t.Errorf("synchronisation %d lacks pod %s (got %d pods)", round, id, len(gotPods))
			}
		}
		if ctrState != "CONTAINER_RUNNING" {
			t.Errorf("synchronisation %d: container %s is %q, want CONTAINER_RUNNING", round, ctr, ctrState)
		}
	}
	checkSync(1)

	e.d.Kill()
	e.d.Start()
	p.waitFor(t, 1, func(ev nriEvent) bool { return ev.Event == "Disconnected" })
	checkSync(2)
	if st := e.status(t, ctr); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container after kill -9 of the daemon: %v, want running", st.State)
	}
	if got, _ := e.pids(t, ctr); got != pid {
		t.Errorf("container pid %d after the restart, was %d", got, pid)
	}
	// The plugin sees what happens next, from the new daemon.
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: ctr}); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, 1, func(ev nriEvent) bool { return ev.ID == ctr && ev.Event == "StopContainer" })
}

// TestNRIPreinstalledPlugin: an executable in plugin_path is started with
// the daemon, synchronised, and sent the pods that follow.
func TestNRIPreinstalledPlugin(t *testing.T) {
	bin := buildNRIPlugin(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -events %s\n", bin, events)
	if err := os.WriteFile(filepath.Join(plugins, "20-cria-test"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	d := framework.StartDaemon(t, framework.WithConfig(func(c *config.Config) {
		c.NRI.PluginPath = plugins
		c.NRI.DisableConnections = true
	}))
	p := &nriPlugin{events: events}
	p.waitFor(t, 1, func(ev nriEvent) bool { return ev.Event == "Synchronized" })
	if _, err := os.Stat(d.Config.NRI.SocketPath); !os.IsNotExist(err) {
		t.Errorf("the NRI socket with disable_connections: %v, want none", err)
	}
	pod := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
	}))
	p.waitFor(t, 1, func(ev nriEvent) bool { return ev.PodID == pod && ev.Event == "RunPodSandbox" })
	removePod(t, d, pod)
	p.waitFor(t, 1, func(ev nriEvent) bool { return ev.PodID == pod && ev.Event == "RemovePodSandbox" })
}
