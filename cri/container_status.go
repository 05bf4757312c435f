package cri

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor/wire"
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

// ContainerStatus reports a container's state, times, exit code and
// reason, image, mounts and log path. With Verbose, Info["info"] is one
// JSON object with the pid, the OCI spec and the runtime details.
func (s *RuntimeService) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	c, err := s.currentContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	if c.State == store.ContainerCreating {
		// Not there until its CreateContainer returns.
		return nil, fmt.Errorf("container %s is being made: %w", c.ID, errdefs.ErrNotFound)
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: s.statuses.get(c, s.buildStatus, s.containerLive)}
	if req.GetVerbose() {
		spec := json.RawMessage("null")
		if b, err := readFile(c.Dir, wire.SpecFile); err == nil {
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

// buildStatus is the CRI status of c, which ContainerStatus keeps for as
// long as c is the container's record (s.statuses).
func (s *RuntimeService) buildStatus(c *store.Container) *runtimeapi.ContainerStatus {
	cfg := s.ctrConfig(c)
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
		Mounts:      statusMounts(c, cfg.GetMounts()),
		User:        statusUser(c.User),
		LogPath:     c.LogPath,
		Resources:   &runtimeapi.ContainerResources{Linux: cfg.GetLinux().GetResources()},
	}
	if c.State != store.ContainerExited {
		st.ExitCode = 0
	}
	return st
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

// statusMounts reports the config's mounts, each image volume with the id
// of the image it was made from.
func statusMounts(c *store.Container, mounts []*runtimeapi.Mount) []*runtimeapi.Mount {
	if len(c.ImageVolumes) == 0 {
		return mounts
	}
	out := make([]*runtimeapi.Mount, len(mounts))
	copy(out, mounts)
	for _, v := range c.ImageVolumes {
		if v.Mount < len(out) && out[v.Mount].GetImage() != nil {
			m := proto.Clone(out[v.Mount]).(*runtimeapi.Mount)
			m.Image.ImageRef = v.ImageID
			out[v.Mount] = m
		}
	}
	return out
}

// statusUser reports the identity of the container's processes; the
// supplementary groups include the primary one, as the kernel lists them
// (id -G).
func statusUser(u *store.ContainerUser) *runtimeapi.ContainerUser {
	if u == nil {
		return nil
	}
	groups := []int64{int64(u.GID)}
	for _, g := range u.Groups {
		if g != u.GID && !slices.Contains(groups, int64(g)) {
			groups = append(groups, int64(g))
		}
	}
	slices.Sort(groups)
	return &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: int64(u.UID), Gid: int64(u.GID), SupplementalGroups: groups}}
}
