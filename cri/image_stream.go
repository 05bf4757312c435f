package cri

import (
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// streamBatch is how many items one message of a Stream* RPC carries.
const streamBatch = 100

// StreamImages answers as ListImages does, in batches of streamBatch.
func (s *ImageService) StreamImages(req *runtimeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamImagesResponse]) error {
	imgs, err := s.listImages(stream.Context(), req.GetFilter())
	if err != nil {
		return ToStatus(err)
	}
	return sendBatches(imgs, func(batch []*runtimeapi.Image) error {
		return stream.Send(&runtimeapi.StreamImagesResponse{Images: batch})
	})
}
