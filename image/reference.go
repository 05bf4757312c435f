package image

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"go.podman.io/image/v5/docker/reference"
)

// Normalize turns a reference as a user or the kubelet writes it into the
// fully qualified form that docker and containerd use: "busybox" becomes
// "docker.io/library/busybox:latest"; a reference with a digest keeps the
// digest (and any tag). Errors are errdefs.ErrInvalidArgument.
func Normalize(ref string) (reference.Named, error) {
	if ref == "" {
		return nil, fmt.Errorf("image reference is empty: %w", errdefs.ErrInvalidArgument)
	}
	if idRE.MatchString(ref) {
		return nil, fmt.Errorf("%q is an image id, not a reference to pull: %w", ref, errdefs.ErrInvalidArgument)
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	if _, port, ok := strings.Cut(reference.Domain(named), ":"); ok {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid image reference %q: port %s is out of range: %w", ref, port, errdefs.ErrInvalidArgument)
		}
	}
	return reference.TagNameOnly(named), nil
}

// CheckReference checks that ref can name an image: a reference that
// Normalize accepts, or an image id, whole or abbreviated as crictl
// prints them. Errors are errdefs.ErrInvalidArgument.
func CheckReference(ref string) error {
	if idRE.MatchString(ref) || shortIDRE.MatchString(ref) {
		return nil
	}
	_, err := Normalize(ref)
	return err
}

// idRE matches a full image id, with or without its algorithm.
var idRE = regexp.MustCompile(`^(sha256:)?[0-9a-f]{64}$`)

// shortIDRE matches what may be an abbreviated image id.
var shortIDRE = regexp.MustCompile(`^(sha256:)?[0-9a-f]{4,63}$`)

// FormatID is how cria shows a containers/storage image id to CRI clients.
func FormatID(storageID string) string { return "sha256:" + storageID }

// userOf splits an image config's User ("1002", "www-data", "1003:1004",
// "www-data:1004", "") into what CRI reports: a numeric uid, or a user name.
// Neither is set when the image names no user.
func userOf(user string) (uid *int64, username string) {
	if user == "" {
		return nil, ""
	}
	user, _, _ = strings.Cut(user, ":")
	if n, err := strconv.ParseInt(user, 10, 64); err == nil {
		return &n, ""
	}
	return nil, user
}

// repoTagsAndDigests derives CRI's repo tags and repo digests from the names
// that containers/storage keeps for an image and its manifest digests:
// every tagged name is a repo tag; every repository named (tagged or by
// digest) with every manifest digest is a repo digest.
func repoTagsAndDigests(names []string, digests []string) (tags, repoDigests []string) {
	seenRepo := map[string]bool{}
	var repos []string
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		if _, ok := named.(reference.NamedTagged); ok {
			tags = append(tags, named.String())
		}
		if repo := named.Name(); !seenRepo[repo] {
			seenRepo[repo] = true
			repos = append(repos, repo)
		}
	}
	seen := map[string]bool{}
	for _, repo := range repos {
		for _, d := range digests {
			rd := repo + "@" + d
			if !seen[rd] {
				seen[rd] = true
				repoDigests = append(repoDigests, rd)
			}
		}
	}
	return tags, repoDigests
}

// pinned reports whether any of tags matches a pattern: an exact name, or
// a prefix ending in "*".
func pinned(patterns, tags []string) bool {
	for _, p := range patterns {
		prefix, glob := strings.CutSuffix(p, "*")
		for _, t := range tags {
			if t == p || (glob && strings.HasPrefix(t, prefix)) {
				return true
			}
		}
	}
	return false
}
