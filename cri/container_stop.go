package cri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/pidfd"
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

// stopContainer sends the stop signal, waits up to timeout for the exit,
// then kills. A created container's waiting init is ended at once. It
// returns the updated record. The caller holds the lock.
func (s *RuntimeService) stopContainer(ctx context.Context, c *store.Container, timeout time.Duration) (*store.Container, error) {
	c = s.observe(c)
	if c.State == store.ContainerCreated {
		return s.stopCreated(c)
	}
	if c.State != store.ContainerRunning {
		return c, nil
	}
	sig, _ := parseSignal(c.StopSignal) // checked at create
	if sig == 0 {
		sig = unix.SIGTERM
	}
	if timeout > 0 && alive(c.Pid, c.PidStart) {
		if err := unix.Kill(c.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("signalling container %s: %w", c.ID, err)
		}
		if c = s.waitExit(ctx, c, timeout); c.State != store.ContainerRunning {
			return c, nil
		}
	}
	if alive(c.Pid, c.PidStart) {
		if err := unix.Kill(c.Pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("killing container %s: %w", c.ID, err)
		}
	}
	if c = s.waitExit(ctx, c, 30*time.Second); c.State == store.ContainerRunning {
		return nil, fmt.Errorf("container %s did not exit after SIGKILL", c.ID)
	}
	return c, nil
}

// stopCreated ends a created container that was never started: it exits,
// with the status of its init, which ran nothing of the container's.
func (s *RuntimeService) stopCreated(c *store.Container) (*store.Container, error) {
	if err := s.endCreated(c); err != nil {
		return nil, fmt.Errorf("stopping created container %s: %w", c.ID, err)
	}
	exit, _ := monitor.ReadExit(c.Dir)
	updated, err := s.containers.Update(c.ID, func(r *store.Container) error {
		r.State, r.Reason, r.Message = store.ContainerExited, "Error", "stopped before it was started"
		r.ExitCode, r.FinishedAt = 128+int32(unix.SIGKILL), time.Now().UnixNano()
		if exit != nil {
			r.ExitCode, r.FinishedAt = int32(exit.Code), exit.FinishedAt
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	return updated, nil
}

// waitExit waits up to timeout for the container's exit to be recorded:
// on a pidfd of its init while that runs (no polling through a grace
// period), then for the exit record that its monitor writes once it has
// reaped the init, a moment later.
func (s *RuntimeService) waitExit(ctx context.Context, c *store.Container, timeout time.Duration) *store.Container {
	deadline := time.Now().Add(timeout)
	if p, err := pidfd.Open(c.Pid); err == nil {
		// Opened after the pid was recorded: it is the init's only if
		// that still runs.
		if alive(c.Pid, c.PidStart) {
			_ = p.WaitUntil(ctx, deadline)
		}
		p.Close()
	}
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		if c = s.observe(c); c.State != store.ContainerRunning || time.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		time.Sleep(pause)
	}
}
