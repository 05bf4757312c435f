package cri

import (
	"context"
	"encoding/json"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
)

// Status reports whether the runtime and its network are ready. With
// Verbose, Info carries the effective configuration under "config" and the
// host facts cria acts on under "runtime".
func (s *RuntimeService) Status(ctx context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	netCond := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if ready, why := s.opts.CNI.Ready(); !ready {
		netCond.Status, netCond.Reason, netCond.Message = false, "NetworkPluginNotReady", "cria: "+why
	}
	resp := &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
			{Type: runtimeapi.RuntimeReady, Status: true},
			netCond,
		}},
		RuntimeHandlers: s.runtimeHandlers(),
		Features: &runtimeapi.RuntimeFeatures{
			SupplementalGroupsPolicy: true,
			// A pod with the host's network and a user namespace of its
			// own gets the host's /sys bound read-only.
			UserNamespacesHostNetwork: s.userns,
		},
	}
	if !req.GetVerbose() {
		return resp, nil
	}
	info, err := s.verboseInfo()
	if err != nil {
		return nil, err
	}
	resp.Info = info
	return resp, nil
}

// runtimeHandlers lists the default handler and every configured one; all
// run pods alike, so they share their features.
func (s *RuntimeService) runtimeHandlers() []*runtimeapi.RuntimeHandler {
	names := append([]string{""}, s.opts.Config.RuntimeHandlers...)
	out := make([]*runtimeapi.RuntimeHandler, len(names))
	for i, name := range names {
		out[i] = &runtimeapi.RuntimeHandler{
			Name: name,
			// Recursive read-only mounts need mount_setattr (Linux 5.12).
			Features: &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: s.hasMountSetattr, UserNamespaces: s.userns},
		}
	}
	return out
}

func (s *RuntimeService) verboseInfo() (map[string]string, error) {
	cfg, err := json.Marshal(s.opts.Config)
	if err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	s.mu.Lock()
	podCIDRs := append([]string(nil), s.podCIDRs...)
	s.mu.Unlock()
	rt, err := json.Marshal(map[string]any{
		"version":         s.opts.Version,
		"cgroupDriver":    s.opts.CgroupDriver,
		"cgroupHierarchy": cgroups.Hierarchy(),
		"podCIDRs":        podCIDRs,
		// Set when the daemon cannot lower oom_score_adj: containers
		// asking for less get this.
		"oomScoreAdjFloor": s.oomScoreAdjFloor,
		// Whether pods can have user namespaces of their own
		// (hostUsers: false), and if not, why.
		"userNamespaces": map[string]any{"supported": s.userns, "reason": s.usernsWhy},
		"apparmor": map[string]any{
			"enabled": s.opts.AppArmor.Enabled, "defaultProfile": s.opts.AppArmor.Default, "defaultProfileError": s.opts.AppArmor.DefaultErr,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding runtime info: %w", err)
	}
	return map[string]string{"config": string(cfg), "runtime": string(rt)}, nil
}
