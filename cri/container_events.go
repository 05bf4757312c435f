package cri

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// GetContainerEvents streams container and sandbox lifecycle events
// (created, started, stopped, deleted) until the caller goes away. Each
// carries the sandbox's status and its containers' statuses, as the
// kubelet's evented PLEG expects. A subscriber that falls far behind gets
// an error and resubscribes.
func (s *RuntimeService) GetContainerEvents(req *runtimeapi.GetEventsRequest, stream grpc.ServerStreamingServer[runtimeapi.ContainerEventResponse]) error {
	ch, cancel := s.events.subscribe()
	defer cancel()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return fmt.Errorf("event subscriber fell behind; subscribe again")
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

// emit publishes an event about a container or sandbox id of sandbox
// sandboxID, with the sandbox's current status.
func (s *RuntimeService) emit(id, sandboxID string, t runtimeapi.ContainerEventType) {
	ev := &runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: t}
	if sb, err := s.sandboxes.Get(sandboxID); err == nil {
		ev.PodSandboxStatus = sandboxStatus(sb, s.podConfig(sb))
		for _, c := range s.containers.ListGroup(sandboxID) {
			if c.State == store.ContainerCreating {
				continue
			}
			ev.ContainersStatuses = append(ev.ContainersStatuses, &runtimeapi.ContainerStatus{
				Id: c.ID, Metadata: s.ctrConfig(c).GetMetadata(), State: containerState(c),
				CreatedAt: c.CreatedAt, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, ExitCode: c.ExitCode,
				Reason: c.Reason, Image: &runtimeapi.ImageSpec{Image: c.ImageRef}, ImageRef: c.ImageID,
			})
		}
	}
	s.events.publish(ev)
}

// sweepEvery is how often WatchExits looks at every running container and
// every ready sandbox for what nothing pushed.
const sweepEvery = 10 * time.Second

// WatchExits is the safety net of what is pushed. Containers' exits are
// pushed (watchExit), pause processes' ends too (watchPause), and a change
// of the mount table (a namespace pin unmounted) has the ready sandboxes
// checked at once (see checkSandbox). Every sweepEvery it also looks at
// every running container and ready sandbox, for what a kernel without
// pidfds cannot push. It returns when ctx ends.
func (s *RuntimeService) WatchExits(ctx context.Context) {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	mounts := mountsChanged(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-mounts:
			s.checkSandboxes()
		case <-tick.C:
			for _, c := range s.containers.ListShared() {
				if c.State == store.ContainerRunning {
					_, _ = s.currentContainer(c.ID)
				}
			}
			s.checkSandboxes()
		}
	}
}
