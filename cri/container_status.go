package cri

import (
	"context"
	"encoding/json"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
)

// lockContainer takes the lock of the container that id (or an id prefix)
// names and returns its current record; call unlock when done.
func (s *RuntimeService) lockContainer(id string) (_ *store.Container, unlock func(), _ error) {
	c, err := s.containers.Get(id)
	if err != nil {
		return nil, nil, err
	}
	unlock = s.containers.Lock(c.ID)
	// Read again under the lock: it may have changed or gone meanwhile.
	if c, err = s.containers.Get(c.ID); err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
}

// lockedContainer returns the container's record brought up to date with
// its monitor.
func (s *RuntimeService) lockedContainer(id string) (*store.Container, error) {
	c, unlock, err := s.lockContainer(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.observe(c), nil
}

// ContainerStatus reports a container's state, times, exit code and
// reason, image, mounts and log path. With Verbose, Info["info"] is one
// JSON object with the pid, the OCI spec and the runtime details.
func (s *RuntimeService) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	c, err := s.lockedContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	cfg := containerConfig(c)
	st := &runtimeapi.ContainerStatus{
		Id:          c.ID,
		Metadata:    cfg.GetMetadata(),
		State:       containerState(c),
		CreatedAt:   c.CreatedAt,
		StartedAt:   c.StartedAt,
		FinishedAt:  c.FinishedAt,
		ExitCode:    c.ExitCode,
		Image:       &runtimeapi.ImageSpec{Image: c.ImageRef},
		ImageRef:    c.ImageID,
		ImageId:     c.ImageID,
		Reason:      c.Reason,
		Message:     c.Message,
		Labels:      cfg.GetLabels(),
		Annotations: cfg.GetAnnotations(),
		Mounts:      cfg.GetMounts(),
		LogPath:     c.LogPath,
		Resources:   &runtimeapi.ContainerResources{Linux: cfg.GetLinux().GetResources()},
	}
	if c.State != store.ContainerExited {
		st.ExitCode = 0
	}
	if c.Reason == reasonCreating {
		st.Reason = ""
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: st}
	if req.GetVerbose() {
		spec := json.RawMessage("null")
		if b, err := readFile(c.Dir, monitor.SpecFile); err == nil {
			spec = b
		}
		info, err := json.Marshal(map[string]any{
			"id":          c.ID,
			"sandboxID":   c.SandboxID,
			"pid":         c.Pid,
			"monitorPid":  c.MonitorPid,
			"rootfs":      c.Rootfs,
			"runtimeSpec": spec,
			"runtime":     map[string]any{"name": "runc (libcontainer)", "root": s.opts.Runtime.Root, "bundle": c.Dir},
		})
		if err != nil {
			return nil, fmt.Errorf("encoding container info: %w", err)
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

func containerState(c *store.Container) runtimeapi.ContainerState {
	switch c.State {
	case store.ContainerCreated:
		return runtimeapi.ContainerState_CONTAINER_CREATED
	case store.ContainerRunning:
		return runtimeapi.ContainerState_CONTAINER_RUNNING
	case store.ContainerExited:
		return runtimeapi.ContainerState_CONTAINER_EXITED
	}
	return runtimeapi.ContainerState_CONTAINER_UNKNOWN
}
