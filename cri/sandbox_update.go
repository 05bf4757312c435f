package cri

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// UpdatePodSandboxResources records a pod's new overhead and resources
// after an in-place resize. The kubelet resizes the pod's cgroup itself
// (it owns the pod-level cgroups) and each container's through
// UpdateContainerResources; this call tells the runtime, as containerd and
// CRI-O take it, and verbose PodSandboxStatus reports what it said.
func (s *RuntimeService) UpdatePodSandboxResources(ctx context.Context, req *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	defer s.nri.Block()()
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	if err := checkPodResources("overhead", req.GetOverhead(), s.node); err != nil {
		return nil, err
	}
	if err := checkPodResources("resources", req.GetResources(), s.node); err != nil {
		return nil, err
	}
	unlock := s.sandboxes.Lock(sb.ID)
	defer unlock()
	nriOn := s.nri.Active()
	if nriOn {
		if sb, err = s.sandboxes.Get(sb.ID); err != nil {
			return nil, err
		}
		if err := s.nri.UpdatePodSandbox(ctx, nriPod(sb), nriResources(req.GetOverhead()), nriResources(req.GetResources())); err != nil {
			return nil, fmt.Errorf("an NRI plugin failed UpdatePodSandbox: %w", err)
		}
	}
	sb, err = s.sandboxes.Update(sb.ID, func(r *store.Sandbox) error {
		cfg := sandboxConfig(r)
		if cfg.Linux == nil {
			cfg.Linux = &runtimeapi.LinuxPodSandboxConfig{}
		}
		cfg.Linux.Overhead, cfg.Linux.Resources = req.GetOverhead(), req.GetResources()
		raw, err := protojson.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encoding sandbox config: %w", err)
		}
		r.Config = raw
		return nil
	})
	if err != nil {
		return nil, err
	}
	if nriOn {
		s.nri.PostUpdatePodSandbox(ctx, nriPod(sb))
	}
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}
