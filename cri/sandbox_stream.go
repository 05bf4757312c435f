package cri

import (
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StreamPodSandboxes answers as ListPodSandbox does, in batches.
func (s *RuntimeService) StreamPodSandboxes(req *runtimeapi.StreamPodSandboxesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxesResponse]) error {
	items := s.listSandboxes(req.GetFilter())
	return sendBatches(items, func(batch []*runtimeapi.PodSandbox) error {
		return stream.Send(&runtimeapi.StreamPodSandboxesResponse{PodSandboxes: batch})
	})
}

// sendBatches sends items in batches of streamBatch, and one empty batch
// when there are none.
func sendBatches[T any](items []T, send func([]T) error) error {
	for start := 0; ; start += streamBatch {
		end := min(start+streamBatch, len(items))
		if err := send(items[start:end]); err != nil {
			return err
		}
		if end == len(items) {
			return nil
		}
	}
}
