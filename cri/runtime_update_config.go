package cri

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateRuntimeConfig records the pod CIDR(s) that the kubelet assigns to
// this node (a comma-separated list for dual stack). They are reported in
// verbose Status. An empty CIDR clears them. Invalid CIDRs are refused
// whole: nothing is recorded.
func (s *RuntimeService) UpdateRuntimeConfig(ctx context.Context, req *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	raw := req.GetRuntimeConfig().GetNetworkConfig().GetPodCidr()
	if hasControl(raw) || len(raw) > 256 {
		return nil, fmt.Errorf("runtime_config.network_config.pod_cidr %q: at most two CIDRs separated by a comma: %w", raw, errdefs.ErrInvalidArgument)
	}
	var cidrs []string
	for _, c := range strings.Split(raw, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("runtime_config.network_config.pod_cidr: %q is not a CIDR: %w", c, errdefs.ErrInvalidArgument)
		}
		cidrs = append(cidrs, p.Masked().String())
	}
	if len(cidrs) > 2 {
		return nil, fmt.Errorf("runtime_config.network_config.pod_cidr %q: at most two CIDRs (one per IP family): %w", raw, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	s.podCIDRs = cidrs
	s.mu.Unlock()
	Logger(ctx).Info("pod CIDRs updated", "pod_cidrs", cidrs)
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}
