package cri

import (
	"context"
	"errors"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveContainer kills the container if it runs, and removes its root
// filesystem, cgroup, files and record. Its log file stays (the kubelet
// owns it). Removing an unknown container succeeds.
func (s *RuntimeService) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	defer s.nri.Block()()
	c, unlock, err := s.lockContainer(req.GetContainerId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.RemoveContainerResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.destroyContainer(ctx, c); err != nil {
		return nil, err
	}
	if sb, err := s.sandboxes.Get(c.SandboxID); err == nil {
		s.nriRemoveContainer(ctx, sb, c)
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}
