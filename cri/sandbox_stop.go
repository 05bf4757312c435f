package cri

import (
	"context"
	"errors"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// StopPodSandbox stops the pod's processes and releases its network (CNI
// DEL, so its IP is freed), namespaces and /dev/shm. It is idempotent, and
// stopping an unknown sandbox succeeds, as CRI requires. If a step fails,
// the sandbox stays NotReady with a reason and a retry finishes the job.
func (s *RuntimeService) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	defer s.nri.Block()()
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.StopPodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	unlock := s.sandboxes.Lock(sb.ID)
	defer unlock()
	if sb, err = s.sandboxes.Get(sb.ID); errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.StopPodSandboxResponse{}, nil
	} else if err != nil {
		return nil, err
	}
	// The pod's containers first: CRI requires Stop to force them down.
	if err := s.eachPodContainer(sb.ID, func(c *store.Container) error {
		c, err := s.stopContainer(ctx, c, 0)
		if err == nil {
			s.nriStopContainer(ctx, c)
		}
		return err
	}); err != nil {
		return nil, err
	}
	s.nriStopPodSandbox(ctx, sb)
	wasReady := sb.State == store.SandboxReady
	if _, err := s.teardown(ctx, sb); err != nil {
		return nil, err
	}
	if wasReady {
		s.emit(sb.ID, sb.ID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}
