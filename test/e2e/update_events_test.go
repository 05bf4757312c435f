package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// cgroupValue runs a container that prints a file of its own cgroup, as
// runc mounts it at /sys/fs/cgroup (v1: per controller; v2: unified).
func cgroupReader(v1, v2 string) string {
	return "cat /sys/fs/cgroup/" + v1 + " 2>/dev/null || cat /sys/fs/cgroup/" + v2
}

func TestResourcesInCgroupAndUpdate(t *testing.T) {
	e := newContainerEnv(t)
	// Limits at create time are in the cgroup.
	out, _ := e.runOnce(t, cgroupReader("memory/memory.limit_in_bytes", "memory.max")+"; "+cgroupReader("cpu/cpu.shares", "cpu.weight"), func(c *runtimeapi.ContainerConfig) {
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20, CpuShares: 512}
	})
	if !contains(out, "stdout F 67108864") || !(contains(out, "stdout F 512") || contains(out, "stdout F 20")) {
		t.Errorf("cgroup values %q, want memory 67108864 and cpu shares 512", out)
	}

	// A running container's limits change in place.
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "trap 'exit 0' TERM; while true; do " + cgroupReader("memory/memory.limit_in_bytes", "memory.max") + "; sleep 0.1; done"}
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20}
	})
	e.start(t, id)
	if _, err := e.d.Runtime.UpdateContainerResources(ctxT(t), &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id, Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 96 << 20},
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !contains(strings.Join(logRecords(t, e.status(t, id).LogPath), "|"), "100663296") {
		if time.Now().After(deadline) {
			t.Fatalf("the running container never saw its new 96 MiB limit")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.status(t, id).GetResources().GetLinux().GetMemoryLimitInBytes(); got != 96<<20 {
		t.Errorf("status reports memory limit %d, want %d", got, 96<<20)
	}

	// A created container starts with the updated limits.
	id2 := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", cgroupReader("memory/memory.limit_in_bytes", "memory.max")}
		c.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 << 20}
	})
	if _, err := e.d.Runtime.UpdateContainerResources(ctxT(t), &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id2, Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 32 << 20},
	}); err != nil {
		t.Fatal(err)
	}
	e.start(t, id2)
	if out := strings.Join(logRecords(t, e.waitExited(t, id2).LogPath), "|"); !contains(out, "33554432") {
		t.Errorf("created-then-updated container saw %q, want 33554432", out)
	}
	// An exited container cannot be updated.
	if _, err := e.d.Runtime.UpdateContainerResources(ctxT(t), &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id2, Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 32 << 20},
	}); err == nil || !contains(err.Error(), "FailedPrecondition") {
		t.Errorf("update of an exited container: %v, want FailedPrecondition", err)
	}
}

func TestContainerEvents(t *testing.T) {
	e := newContainerEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := e.d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *runtimeapi.ContainerEventResponse, 100)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- ev
		}
	}()
	time.Sleep(100 * time.Millisecond) // the subscription is in place
	id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sh", "-c", "sleep 0.3"} })
	e.start(t, id)
	// No status call: the daemon's exit watcher notices the exit itself.
	var types []runtimeapi.ContainerEventType
	deadline := time.After(10 * time.Second)
	for len(types) < 3 {
		select {
		case ev := <-got:
			if ev.ContainerId != id {
				continue
			}
			types = append(types, ev.ContainerEventType)
			if ev.PodSandboxStatus.GetId() != e.pod {
				t.Errorf("event %v carries sandbox %q, want %s", ev.ContainerEventType, ev.PodSandboxStatus.GetId(), e.pod)
			}
		case <-deadline:
			t.Fatalf("events so far %v, want created, started, stopped", types)
		}
	}
	if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	for ev := range got {
		if ev.ContainerId == id {
			types = append(types, ev.ContainerEventType)
			break
		}
	}
	want := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	if len(types) != 4 || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] || types[3] != want[3] {
		t.Errorf("events = %v, want %v", types, want)
	}
}
