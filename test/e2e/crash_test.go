package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestDaemonKilledDuringContainerCalls kills the daemon at random moments
// while containers are created, started and stopped, ten times, and checks
// after each restart that every container is in a state its processes
// agree with; at the end, that removing the pod leaves nothing behind.
func TestDaemonKilledDuringContainerCalls(t *testing.T) {
	e := newContainerEnv(t)
	for round := 0; round < 10; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ctx.Err() == nil; i++ {
				cfg := &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("r%d-%d", round, i)},
					Image:    &runtimeapi.ImageSpec{Image: busybox},
					Command:  []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"},
					LogPath:  fmt.Sprintf("r%d-%d.log", round, i),
					Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
						NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
					}},
				}
				c, err := e.d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, Config: cfg, SandboxConfig: e.podCfg})
				if err != nil {
					return
				}
				if _, err := e.d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
					return
				}
				if i%2 == 0 {
					if _, err := e.d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.ContainerId, Timeout: 5}); err != nil {
						return
					}
				}
			}
		}()
		time.Sleep(time.Duration(20+rand.IntN(300)) * time.Millisecond)
		e.d.Kill()
		cancel()
		<-done
		e.d.Start()
		checkContainerInvariants(t, e, round)
	}
}

func checkContainerInvariants(t *testing.T, e *containerEnv, round int) {
	t.Helper()
	list, err := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Containers {
		resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: c.Id, Verbose: true})
		if err != nil {
			t.Errorf("round %d: status of %s: %v", round, c.Id[:12], err)
			continue
		}
		st := resp.Status
		var pid int
		fmt.Sscanf(resp.Info["info"][strings.Index(resp.Info["info"], `"pid":`)+6:], "%d", &pid)
		running := pid > 0 && processExists(pid)
		switch st.State {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			if !running {
				t.Errorf("round %d: %s is RUNNING but its init %d is gone", round, c.Id[:12], pid)
			}
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			if st.Reason == "" {
				t.Errorf("round %d: %s EXITED without a reason", round, c.Id[:12])
			}
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			// Its init may wait to be started, as libcontainer's init, but
			// must not run the container's command.
			if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); running && !strings.HasSuffix(string(cmd), "\x00init\x00") {
				t.Errorf("round %d: %s is CREATED but its init %d runs %q", round, c.Id[:12], pid, cmd)
			}
		default:
			t.Errorf("round %d: %s in state %v", round, c.Id[:12], st.State)
		}
	}
}

func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestNoMonitorOrLayerLeftAfterRemoval: beyond what every containerEnv's
// cleanup checks (mounts, cgroups, IPs, sandbox directories), removing a
// pod with running containers leaves no monitor and no storage container.
func TestNoMonitorOrLayerLeftAfterRemoval(t *testing.T) {
	e := newContainerEnv(t)
	var monitors []string
	for i := 0; i < 3; i++ {
		id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
		e.start(t, id)
		resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		monitors = append(monitors, regexp.MustCompile(`"monitorPid":(\d+)`).FindStringSubmatch(resp.Info["info"])[1])
	}
	if _, err := e.d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: e.pod}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: e.pod}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	for _, pid := range monitors {
		if b, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && strings.Contains(string(b), "cria-monitor") {
			t.Errorf("monitor %s left: %s", pid, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	b, _ := os.ReadFile(filepath.Join(e.d.Config.Root, "storage", "overlay-containers", "containers.json"))
	if s := strings.TrimSpace(string(b)); s != "" && s != "[]" {
		t.Errorf("storage containers left: %s", s)
	}
}

func TestLostRunShowsExitedUnknown(t *testing.T) {
	e := newContainerEnv(t)
	id, pid, mon := e.startSleeper(t)
	// As a reboot would: the daemon, the monitor and the container die and
	// the container's volatile directory is gone.
	e.d.Kill()
	for _, p := range []int{mon, pid} {
		if proc, err := os.FindProcess(p); err == nil {
			proc.Kill()
		}
	}
	time.Sleep(200 * time.Millisecond)
	os.RemoveAll(filepath.Join(e.d.Config.RunRoot, "containers", id))
	e.d.Start()
	st := e.status(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Reason != "Unknown" || st.ExitCode != 255 {
		t.Errorf("after losing /run: %v reason %q exit %d; want EXITED Unknown 255", st.State, st.Reason, st.ExitCode)
	}
	// The record is kept and can be removed as usual.
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Errorf("RemoveContainer: %v", err)
	}
}

// The daemon keeps a monitor and its start helper started ahead, in
// standby, for the next StartContainer. They belong to the daemon: they go
// when it stops, and when it is killed.
func TestStandbyMonitorGoesWithTheDaemon(t *testing.T) {
	e := newContainerEnv(t)
	running := map[string]bool{} // the monitors of started containers
	start := func() {
		t.Helper()
		id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
		e.start(t, id)
		resp, err := e.d.Runtime.ContainerStatus(ctxT(t), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		running[regexp.MustCompile(`"monitorPid":(\d+)`).FindStringSubmatch(resp.Info["info"])[1]] = true
	}
	standby := func() []string {
		t.Helper()
		var pids []string
		children, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", e.d.PID()))
		for _, f := range children {
			b, _ := os.ReadFile(f)
			for _, pid := range strings.Fields(string(b)) {
				if cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline"); strings.Contains(string(cmd), "cria-monitor\x00standby\x00") && !running[pid] {
					pids = append(pids, pid)
				}
			}
		}
		return pids
	}
	waitStandby := func() string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if pids := standby(); len(pids) == 1 {
				return pids[0]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("want one standby monitor, have %v", standby())
		return ""
	}
	gone := func(what, pid string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat("/proc/" + pid); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("standby %s %s outlived the daemon", what, pid)
	}
	// A standby starts its helper right after it starts itself. Any of
	// the monitor's threads may have forked it: each thread lists its own
	// children.
	helperOf := func(monitor string) string {
		t.Helper()
		var children []string
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			children = nil
			tasks, _ := filepath.Glob("/proc/" + monitor + "/task/*/children")
			for _, f := range tasks {
				b, _ := os.ReadFile(f)
				children = append(children, strings.Fields(string(b))...)
			}
			if len(children) == 1 {
				return children[0]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("standby monitor %s has children %q, want its helper", monitor, children)
		return ""
	}

	// None before the first start; one after it, however many starts.
	if pids := standby(); len(pids) != 0 {
		t.Errorf("standby monitors before any start: %v", pids)
	}
	start()
	start()
	mon := waitStandby()
	helper := helperOf(mon)
	e.d.Kill()
	gone("monitor", mon)
	gone("helper", helper)

	// And on a graceful stop.
	e.d.Start()
	start()
	mon = waitStandby()
	helper = helperOf(mon)
	e.d.Stop()
	gone("monitor", mon)
	gone("helper", helper)
	e.d.Start()
}
