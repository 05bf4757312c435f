package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/procs"
	"github.com/cria-runtime/cria/image"
)

// PullImage pulls an image and returns its id. Short names are normalised
// as docker does (busybox → docker.io/library/busybox:latest).
func (s *ImageService) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	var auth *image.Auth
	if a := req.GetAuth(); a != nil {
		auth = &image.Auth{
			Username:      a.Username,
			Password:      a.Password,
			Auth:          a.Auth,
			IdentityToken: a.IdentityToken,
			RegistryToken: a.RegistryToken,
		}
	}
	// Decompression and digests want every CPU; polls want one.
	defer procs.Busy()()
	id, err := s.images.Pull(ctx, req.GetImage().GetImage(), auth)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PullImageResponse{ImageRef: id}, nil
}
