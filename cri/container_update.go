package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/monitor"
)

// UpdateContainerResources changes a container's cgroup limits, created
// or running, and its spec's. ContainerStatus reports the new values.
func (s *RuntimeService) UpdateContainerResources(ctx context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	c, unlock, err := s.lockContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	defer unlock()
	lr := req.GetLinux()
	if lr == nil {
		return nil, invalid("linux resources are required")
	}
	// The checks CreateContainer makes.
	if err := checkResources("linux", lr, s.node); err != nil {
		return nil, err
	}
	c = s.observe(c)
	res := cgroups.ToOCI(lr)
	cgroups.DropUnavailable(res)
	if c.State == store.ContainerExited {
		return nil, fmt.Errorf("container %s has exited: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	if err := s.opts.Runtime.Update(c.ID, res); err != nil {
		if errors.Is(err, unix.EBUSY) || strings.Contains(err.Error(), "unable to set memory limit") {
			// A memory limit below what the container uses now (the
			// cgroup v1 driver's error does not wrap the EBUSY).
			return nil, fmt.Errorf("updating container %s: %v: %w", c.ID, err, errdefs.ErrFailedPrecondition)
		}
		return nil, err
	}
	// The spec is what verbose ContainerStatus shows.
	if err := updateSpecResources(c.Dir, res); err != nil {
		return nil, err
	}
	cfg := containerConfig(c)
	if cfg.Linux == nil {
		cfg.Linux = &runtimeapi.LinuxContainerConfig{}
	}
	cfg.Linux.Resources = lr
	raw, err := protojson.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := s.containers.Update(c.ID, func(r *store.Container) error { r.Config = raw; return nil }); err != nil {
		return nil, err
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// updateSpecResources rewrites the resources of a container's stored spec,
// keeping its device rules.
func updateSpecResources(dir string, res *specs.LinuxResources) error {
	path := filepath.Join(dir, monitor.SpecFile)
	b, err := readFile(dir, monitor.SpecFile)
	if err != nil {
		return err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	devices := spec.Linux.Resources.Devices
	r := *res
	r.Devices = devices
	spec.Linux.Resources = &r
	if b, err = json.Marshal(&spec); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}
