package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageStatus returns the image that the spec names (id, tag or digest), or
// no image if there is none (not an error, per CRI). With Verbose, Info
// carries under "info" one JSON object with the image's OCI config.
func (s *ImageService) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	img, err := s.images.Status(ctx, req.GetImage().GetImage())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.ImageStatusResponse{Image: toCRIImage(img)}
	if req.GetVerbose() {
		info, err := json.Marshal(map[string]any{
			"id":          img.ID,
			"repoTags":    img.RepoTags,
			"repoDigests": img.RepoDigests,
			"size":        img.Size,
			"pinned":      img.Pinned,
			"imageSpec":   img.Config,
		})
		if err != nil {
			return nil, fmt.Errorf("encoding image info: %w", err)
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}
