package cri

import (
	"context"
	"errors"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StopContainer sends the container's stop signal (the CRI's, else the
// image's, else SIGTERM), waits up to the timeout, then kills it. Stopping
// a stopped or unknown container succeeds.
func (s *RuntimeService) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	defer s.nri.Block()()
	c, unlock, err := s.lockContainer(req.GetContainerId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.StopContainerResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err = s.stopContainer(ctx, c, time.Duration(req.GetTimeout())*time.Second)
	if err != nil {
		return nil, err
	}
	s.nriStopContainer(ctx, c)
	return &runtimeapi.StopContainerResponse{}, nil
}
