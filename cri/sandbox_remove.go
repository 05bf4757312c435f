package cri

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// RemovePodSandbox stops the sandbox if need be (retrying any teardown
// that failed before), then removes its files and record. Removing an
// unknown sandbox succeeds, as CRI requires.
func (s *RuntimeService) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	defer s.nri.Block()()
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	unlock := s.sandboxes.Lock(sb.ID)
	defer unlock()
	if sb, err = s.sandboxes.Get(sb.ID); errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	} else if err != nil {
		return nil, err
	}
	if err := s.eachPodContainer(sb.ID, func(c *store.Container) error {
		if err := s.destroyContainer(ctx, c); err != nil {
			return fmt.Errorf("removing the pod's container %s: %w", c.ID, err)
		}
		s.nriRemoveContainer(ctx, sb, c)
		return nil
	}); err != nil {
		return nil, err
	}
	s.nriStopPodSandbox(ctx, sb)
	if _, err := s.teardown(ctx, sb); err != nil {
		return nil, fmt.Errorf("stopping sandbox %s before removal: %w", sb.ID, err)
	}
	if err := os.RemoveAll(sb.Dir); err != nil {
		return nil, fmt.Errorf("removing sandbox directory: %w", err)
	}
	if err := s.sandboxes.Delete(sb.ID); err != nil {
		return nil, err
	}
	s.podConfigs.forget(sb.ID)
	s.events.publish(&runtimeapi.ContainerEventResponse{ContainerId: sb.ID, ContainerEventType: runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT})
	if s.nri.Active() {
		if err := s.nri.RemovePodSandbox(ctx, nriPod(sb)); err != nil {
			Logger(ctx).Warn("nri: RemovePodSandbox", "pod_sandbox_id", sb.ID, "error", err)
		}
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}
