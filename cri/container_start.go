package cri

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
)

// startTimeout bounds how long a container may take to start.
const startTimeout = time.Minute

// StartContainer starts a created container under a new monitor. A start
// that fails leaves the container exited with reason StartError and the
// cause in its message.
func (s *RuntimeService) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	c, unlock, err := s.lockContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The next start's monitor is made ready once this one is answered.
	defer s.opts.Monitors.Refill()
	if c.State != store.ContainerCreated || c.Reason == reasonCreating {
		return nil, fmt.Errorf("container %s is %s, not created: %w", c.ID, c.State, errdefs.ErrFailedPrecondition)
	}
	if sb, err := s.sandboxes.Get(c.SandboxID); err != nil || sb.State != store.SandboxReady {
		return nil, fmt.Errorf("the container's sandbox %s is not ready: %w", c.SandboxID, errdefs.ErrFailedPrecondition)
	}
	helperArgs := []string{"--id", c.ID, "--dir", c.Dir, "--runtime-root", s.opts.Runtime.Root}
	if s.opts.Runtime.Systemd {
		helperArgs = append(helperArgs, "--systemd")
	}
	cfg := containerConfig(c)
	tty := cfg.GetTty()
	if tty {
		helperArgs = append(helperArgs, "--terminal")
	}
	startedAt := time.Now().UnixNano()
	monPid, pid, startErr := s.opts.Monitors.Start(monitor.Options{
		ID: c.ID, Dir: c.Dir, LogPath: c.LogPath, HelperArgs: helperArgs, Terminal: tty,
		Stdin: cfg.GetStdin(), StdinOnce: cfg.GetStdinOnce(),
	}, startTimeout)
	now := time.Now().UnixNano()
	var monStart, pidStart uint64
	if startErr == nil {
		monStart, _ = processStart(monPid)
		pidStart, _ = processStart(pid)
	}
	_, err = s.containers.Update(c.ID, func(r *store.Container) error {
		if startErr != nil {
			r.State, r.Reason, r.Message = store.ContainerExited, "StartError", startErr.Error()
			r.ExitCode, r.FinishedAt = 128, now
			return nil
		}
		r.State, r.StartedAt = store.ContainerRunning, startedAt
		r.Pid, r.PidStart, r.MonitorPid, r.MonitorStart = pid, pidStart, monPid, monStart
		return nil
	})
	if startErr != nil {
		_ = s.opts.Runtime.Delete(c.ID)
		return nil, startErr
	}
	if err != nil {
		return nil, err
	}
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	return &runtimeapi.StartContainerResponse{}, nil
}
