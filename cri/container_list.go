package cri

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// ListContainers lists containers, filtered by id (or prefix), state,
// sandbox and label selector.
func (s *RuntimeService) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: s.listContainers(req.GetFilter())}, nil
}

// StreamContainers answers as ListContainers does, in batches.
func (s *RuntimeService) StreamContainers(req *runtimeapi.StreamContainersRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainersResponse]) error {
	return sendBatches(s.listContainers(req.GetFilter()), func(batch []*runtimeapi.Container) error {
		return stream.Send(&runtimeapi.StreamContainersResponse{Containers: batch})
	})
}

func (s *RuntimeService) listContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	var out []*runtimeapi.Container
	for _, c := range s.containers.ListShared() {
		if c.State == store.ContainerCreating {
			continue // not there until its CreateContainer returns
		}
		if f.GetId() != "" && !strings.HasPrefix(c.ID, f.GetId()) {
			continue
		}
		if f.GetPodSandboxId() != "" && !strings.HasPrefix(c.SandboxID, f.GetPodSandboxId()) {
			continue
		}
		if cur, err := s.currentContainer(c.ID); err == nil {
			c = cur
		}
		e := s.listed.get(c, s.buildListed, s.containerLive)
		if f.GetState() != nil && f.GetState().GetState() != e.State {
			continue
		}
		if !labelsMatch(e.Labels, f.GetLabelSelector()) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// buildListed is c's entry in ListContainers, which it keeps for as long
// as c is the container's record (s.listed).
func (s *RuntimeService) buildListed(c *store.Container) *runtimeapi.Container {
	cfg := s.ctrConfig(c)
	return &runtimeapi.Container{
		Id:           c.ID,
		PodSandboxId: c.SandboxID,
		Metadata:     cfg.GetMetadata(),
		Image:        &runtimeapi.ImageSpec{Image: c.ImageRef},
		ImageRef:     c.ImageID,
		ImageId:      c.ImageID,
		State:        containerState(c),
		CreatedAt:    c.CreatedAt,
		Labels:       cfg.GetLabels(),
		Annotations:  cfg.GetAnnotations(),
	}
}

// containerLive tells whether container id is in the store.
func (s *RuntimeService) containerLive(id string) bool {
	_, err := s.containers.Shared(id)
	return err == nil
}

func readFile(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
