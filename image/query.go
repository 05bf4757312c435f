package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/storage"
)

// Image is what cria knows about one stored image.
type Image struct {
	// ID is "sha256:" + the image's config digest.
	ID string
	// RepoTags are its tagged names, RepoDigests its names by digest.
	RepoTags, RepoDigests []string
	// Size is the sum of its layers' uncompressed sizes and metadata.
	Size uint64
	// UID or Username comes from the image's USER; neither is set if the
	// image names no user.
	UID      *int64
	Username string
	// Pinned images must never be garbage-collected.
	Pinned bool
	// Config is the image's OCI configuration.
	Config *ocispec.Image
}

// imageInfo is what never changes for an image id.
type imageInfo struct {
	config *ocispec.Image
	size   uint64
}

// List returns every image in the store.
func (s *Service) List(ctx context.Context) ([]*Image, error) {
	imgs, err := s.store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out := make([]*Image, 0, len(imgs))
	for i := range imgs {
		img, err := s.describe(ctx, &imgs[i])
		if errors.Is(err, storage.ErrImageUnknown) {
			continue // removed while we listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// Status returns the image that ref names (an id, a unique id prefix, a
// name by tag or by digest, normalised like Normalize), or an error of
// class ErrNotFound.
func (s *Service) Status(ctx context.Context, ref string) (*Image, error) {
	simg, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.describe(ctx, simg)
}

// resolve finds the stored image that ref names.
func (s *Service) resolve(ref string) (*storage.Image, error) {
	if err := CheckReference(ref); err != nil {
		return nil, err
	}
	if idRE.MatchString(ref) {
		img, err := s.store.Image(strings.TrimPrefix(ref, "sha256:"))
		if err != nil {
			return nil, notFound(ref, err)
		}
		return img, nil
	}
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if img, err := s.byName(reference.TagNameOnly(named)); err == nil {
			return img, nil
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	// An abbreviated id, as `crictl images` prints them.
	if shortIDRE.MatchString(ref) {
		if img, err := s.store.Image(strings.TrimPrefix(ref, "sha256:")); err == nil && strings.HasPrefix(img.ID, strings.TrimPrefix(ref, "sha256:")) {
			return img, nil
		}
	}
	return nil, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
}

func (s *Service) byName(named reference.Named) (*storage.Image, error) {
	if canonical, ok := named.(reference.Canonical); ok {
		imgs, err := s.store.ImagesByDigest(canonical.Digest())
		if err != nil && !errors.Is(err, storage.ErrImageUnknown) {
			return nil, err
		}
		for _, img := range imgs {
			for _, n := range img.Names {
				if nn, err := reference.ParseNormalizedNamed(n); err == nil && nn.Name() == named.Name() {
					return img, nil
				}
			}
		}
		return nil, fmt.Errorf("image %q: %w", named, errdefs.ErrNotFound)
	}
	img, err := s.store.Image(named.String())
	if err != nil {
		return nil, notFound(named.String(), err)
	}
	return img, nil
}

func notFound(ref string, err error) error {
	if errors.Is(err, storage.ErrImageUnknown) {
		return fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	return fmt.Errorf("looking up image %q: %w", ref, err)
}

// describe builds the Image view of a stored image.
func (s *Service) describe(ctx context.Context, simg *storage.Image) (*Image, error) {
	info, err := s.infoFor(ctx, simg)
	if err != nil {
		return nil, err
	}
	digests := make([]string, 0, len(simg.Digests))
	for _, d := range simg.Digests {
		digests = append(digests, d.String())
	}
	if len(digests) == 0 && simg.Digest != "" {
		digests = append(digests, simg.Digest.String())
	}
	tags, repoDigests := repoTagsAndDigests(simg.Names, digests)
	uid, username := userOf(info.config.Config.User)
	return &Image{
		ID:          FormatID(simg.ID),
		RepoTags:    tags,
		RepoDigests: repoDigests,
		Size:        info.size,
		UID:         uid,
		Username:    username,
		Pinned:      pinned(s.opts.PinnedImages, tags),
		Config:      info.config,
	}, nil
}

// infoFor returns the cached config and size of an image, reading them
// from the store the first time.
func (s *Service) infoFor(ctx context.Context, simg *storage.Image) (*imageInfo, error) {
	s.mu.Lock()
	info := s.info[simg.ID]
	s.mu.Unlock()
	if info != nil {
		return info, nil
	}
	ref, err := istorage.Transport.NewStoreReference(s.store, nil, simg.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", simg.ID, err)
	}
	src, err := ref.NewImage(ctx, s.sys)
	if err != nil {
		if errors.Is(err, storage.ErrImageUnknown) {
			return nil, err
		}
		return nil, fmt.Errorf("reading image %s: %w", simg.ID, err)
	}
	defer src.Close()
	config, err := src.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading config of image %s: %w", simg.ID, err)
	}
	size, err := s.store.ImageSize(simg.ID)
	if err != nil {
		return nil, fmt.Errorf("sizing image %s: %w", simg.ID, err)
	}
	info = &imageInfo{config: config, size: uint64(max(size, 0))}
	s.mu.Lock()
	s.info[simg.ID] = info
	s.mu.Unlock()
	return info, nil
}

// Remove deletes the image that ref names, with all its tags. Removing an
// image that does not exist succeeds (CRI requires it). An image that a
// container uses is not removed: ErrFailedPrecondition.
func (s *Service) Remove(ctx context.Context, ref string) error {
	simg, err := s.resolve(ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.store.DeleteImage(simg.ID, true); err != nil {
		switch {
		case errors.Is(err, storage.ErrImageUnknown), errors.Is(err, storage.ErrNotAnImage):
			return nil // removed meanwhile by a concurrent call
		case errors.Is(err, storage.ErrImageUsedByContainer):
			return fmt.Errorf("image %s (%s) is used by a container: %w", ref, FormatID(simg.ID), errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("removing image %s: %w", ref, err)
	}
	s.mu.Lock()
	delete(s.info, simg.ID)
	s.mu.Unlock()
	return nil
}
