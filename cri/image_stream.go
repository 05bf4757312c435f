package cri

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"google.golang.org/grpc"
)

// streamBatch is how many items one message of a Stream* RPC carries.
const streamBatch = 100

// StreamImages answers as ListImages does, in batches of streamBatch.
func (s *ImageService) StreamImages(req *runtimeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamImagesResponse]) error {
	imgs, err := s.listImages(stream.Context(), req.GetFilter())
	if err != nil {
		return ToStatus(err)
	}
	for start := 0; start < len(imgs) || start == 0; start += streamBatch {
		end := min(start+streamBatch, len(imgs))
		if err := stream.Send(&runtimeapi.StreamImagesResponse{Images: imgs[start:end]}); err != nil {
			return err
		}
		if end == len(imgs) {
			break
		}
	}
	return nil
}
