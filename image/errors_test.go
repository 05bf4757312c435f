package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/signature"
)

func TestClassifyPullError(t *testing.T) {
	named, err := Normalize("registry.k8s.io/pause:3.10")
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(e error) error { return fmt.Errorf("initializing source: %w", e) }
	for _, tc := range []struct {
		name       string
		err        error
		wantPrefix string // the kubelet's class, matched on the message start
		wantClass  error  // errdefs class
	}{
		{name: "stalled", err: fmt.Errorf("%w for 5m0s", errStalled), wantPrefix: "RegistryUnavailable"},
		{name: "connection refused", err: wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), wantPrefix: "RegistryUnavailable"},
		{name: "dns", err: wrap(&net.DNSError{Err: "no such host", Name: "registry.k8s.io"}), wantPrefix: "RegistryUnavailable"},
		{name: "http 503", err: wrap(docker.UnexpectedHTTPStatusError{StatusCode: 503}), wantPrefix: "RegistryUnavailable"},
		{name: "too many requests", err: wrap(docker.ErrTooManyRequests), wantPrefix: "RegistryUnavailable"},
		{name: "signature", err: wrap(signature.PolicyRequirementError("Source image rejected")), wantPrefix: "SignatureValidationFailed"},
		{name: "unauthorized credentials", err: wrap(docker.ErrUnauthorizedForCredentials{Err: errors.New("401")}), wantClass: errdefs.ErrUnauthenticated},
		{name: "unauthorized errcode", err: wrap(errcode.ErrorCodeUnauthorized), wantClass: errdefs.ErrUnauthenticated},
		{name: "denied errcode", err: wrap(errcode.ErrorCodeDenied.WithMessage("denied")), wantClass: errdefs.ErrUnauthenticated},
		{name: "manifest unknown", err: wrap(v2.ErrorCodeManifestUnknown), wantClass: errdefs.ErrNotFound},
		{name: "http 404", err: wrap(docker.UnexpectedHTTPStatusError{StatusCode: 404}), wantClass: errdefs.ErrNotFound},
		{name: "blocked", err: errors.New(`registry blocked.example is blocked in /etc/containers/registries.conf`), wantClass: errdefs.ErrPermissionDenied},
		{name: "caller went away", err: wrap(context.Canceled), wantClass: context.Canceled},
		// A local file error is not the registry's fault, even though
		// syscall.Errno satisfies net.Error.
		{name: "missing local file", err: wrap(&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT})},
		{name: "plain", err: errors.New("something else")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classifyPullError(named, tc.err)
			if tc.wantPrefix != "" && !strings.HasPrefix(got.Error(), tc.wantPrefix+": ") {
				t.Errorf("got %q, want it to start with %q", got, tc.wantPrefix)
			}
			if tc.wantPrefix == "" && (strings.HasPrefix(got.Error(), "RegistryUnavailable") || strings.HasPrefix(got.Error(), "SignatureValidationFailed")) {
				t.Errorf("got %q, want no kubelet class", got)
			}
			if tc.wantClass != nil && !errors.Is(got, tc.wantClass) {
				t.Errorf("got %q, want class %v", got, tc.wantClass)
			}
			if !strings.Contains(got.Error(), "registry.k8s.io/pause:3.10") {
				t.Errorf("got %q, want it to name the image", got)
			}
		})
	}
}
