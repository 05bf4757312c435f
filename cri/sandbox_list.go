package cri

import (
	"context"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// ListPodSandbox lists sandboxes, filtered by id (or id prefix), state and
// label selector (every label given must match).
func (s *RuntimeService) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: s.listSandboxes(req.GetFilter())}, nil
}

func (s *RuntimeService) listSandboxes(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	var out []*runtimeapi.PodSandbox
	for _, sb := range s.sandboxes.ListShared() {
		if sb.State == store.SandboxCreating {
			continue // not there until its RunPodSandbox returns
		}
		if f.GetId() != "" && !strings.HasPrefix(sb.ID, f.GetId()) {
			continue
		}
		state := sandboxState(sb)
		if f.GetState() != nil && f.GetState().GetState() != state {
			continue
		}
		c := s.podConfig(sb)
		if !labelsMatch(c.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:             sb.ID,
			Metadata:       c.GetMetadata(),
			State:          state,
			CreatedAt:      sb.CreatedAt,
			Labels:         c.GetLabels(),
			Annotations:    c.GetAnnotations(),
			RuntimeHandler: sb.RuntimeHandler,
		})
	}
	return out
}

// labelsMatch tells whether labels hold every key=value of selector.
func labelsMatch(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
