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
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// UpdateContainerResources changes a container's cgroup limits, created
// or running, and its spec's. ContainerStatus reports the new values.
func (s *RuntimeService) UpdateContainerResources(ctx context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	defer s.nri.Block()()
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
	if c.State == store.ContainerExited {
		return nil, fmt.Errorf("container %s has exited: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	var sb *store.Sandbox
	if s.nri.Active() {
		if sb, err = s.sandboxes.Get(c.SandboxID); err != nil {
			return nil, err
		}
		adjusted, err := s.nri.UpdateContainer(ctx, nriPod(sb), nriContainer(c, nil), nriResources(lr))
		if err != nil {
			return nil, fmt.Errorf("an NRI plugin failed UpdateContainer: %w", err)
		}
		res = adjusted.ToOCI()
		if err := checkNodeResources(res); err != nil {
			return nil, fmt.Errorf("an NRI plugin's resources: %w", err)
		}
	}
	cgroups.DropUnavailable(res)
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
	if c, err = s.containers.Update(c.ID, func(r *store.Container) error { r.Config = raw; return nil }); err != nil {
		return nil, err
	}
	if sb != nil {
		s.nri.PostUpdateContainer(ctx, nriPod(sb), nriContainer(c, nil))
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// updateSpecResources rewrites the resources of a container's stored spec,
// keeping its device rules.
func updateSpecResources(dir string, res *specs.LinuxResources) error {
	return editSpec(dir, func(spec *specs.Spec) {
		var devices []specs.LinuxDeviceCgroup
		if spec.Linux.Resources != nil {
			devices = spec.Linux.Resources.Devices
		}
		r := *res
		r.Devices = devices
		spec.Linux.Resources = &r
	})
}

// editSpec changes a container's stored spec with fn, atomically.
func editSpec(dir string, fn func(*specs.Spec)) error {
	b, err := readFile(dir, wire.SpecFile)
	if err != nil {
		return err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	fn(&spec)
	if b, err = json.Marshal(&spec); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, wire.SpecFile), b, 0o600)
}
