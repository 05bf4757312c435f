package cri

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/errdefs"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// PodSandboxStatus reports a sandbox's state, times, IPs and namespaces.
// With Verbose, Info["info"] is one JSON object with the namespace paths,
// cgroup, CNI result, runtime handler and pause pid.
func (s *RuntimeService) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.State == store.SandboxCreating {
		// Not there until its RunPodSandbox returns (an NRI plugin may
		// still be looking at it).
		return nil, fmt.Errorf("sandbox %s is being made: %w", sb.ID, errdefs.ErrNotFound)
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: sandboxStatus(sb, s.podConfig(sb))}
	if req.GetVerbose() {
		linux := sandboxConfig(sb).GetLinux()
		info, err := json.Marshal(map[string]any{
			"overhead":       linux.GetOverhead(),
			"resources":      linux.GetResources(),
			"id":             sb.ID,
			"name":           sb.Name,
			"runtimeHandler": sb.RuntimeHandler,
			"reason":         sb.Reason,
			"pid":            sb.PausePID,
			"pidMode":        sb.PIDMode,
			"namespaces":     map[string]string{"network": sb.NetNS, "ipc": sb.IPCNS, "uts": sb.UTSNS, "pid": sb.PIDNS, "user": sb.UserNS},
			"cgroupParent":   sb.CgroupParent,
			"pauseCgroup":    sb.PauseCgroup,
			"network":        sb.Network,
			"cniResult":      sb.CNIResult,
			"hostname":       sb.Hostname,
			"files":          map[string]string{"hosts": sb.HostsPath, "resolvConf": sb.ResolvPath, "hostname": sb.HostnamePath, "shm": sb.ShmPath},
		})
		if err != nil {
			return nil, fmt.Errorf("encoding sandbox info: %w", err)
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

func sandboxState(sb *store.Sandbox) runtimeapi.PodSandboxState {
	if sb.State == store.SandboxReady {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

func sandboxStatus(sb *store.Sandbox, c *runtimeapi.PodSandboxConfig) *runtimeapi.PodSandboxStatus {
	st := &runtimeapi.PodSandboxStatus{
		Id:             sb.ID,
		Metadata:       c.GetMetadata(),
		State:          sandboxState(sb),
		CreatedAt:      sb.CreatedAt,
		Labels:         c.GetLabels(),
		Annotations:    c.GetAnnotations(),
		RuntimeHandler: sb.RuntimeHandler,
		Network:        &runtimeapi.PodSandboxNetworkStatus{},
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{
			Options: c.GetLinux().GetSecurityContext().GetNamespaceOptions(),
		}},
	}
	if len(sb.IPs) > 0 {
		st.Network.Ip = sb.IPs[0]
		for _, ip := range sb.IPs[1:] {
			st.Network.AdditionalIps = append(st.Network.AdditionalIps, &runtimeapi.PodIP{Ip: ip})
		}
	}
	return st
}
