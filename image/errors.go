package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	crierrors "k8s.io/cri-api/pkg/errors"
)

// classifyPullError gives a pull error the class the kubelet acts on.
//
// The kubelet recognises RegistryUnavailable and SignatureValidationFailed by
// the start of the error message (gRPC carries no error types), so those
// errors wrap the cri-api sentinels first and become codes.Unknown, whose
// message the kubelet's client passes on unchanged. The rest get errdefs
// classes and so their own gRPC codes.
func classifyPullError(named reference.Named, err error) error {
	switch {
	case errors.Is(err, errStalled):
		return fmt.Errorf("%w: pulling %s: %v", crierrors.ErrRegistryUnavailable, named, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pulling %s: %w", named, err)
	case isSignatureError(err):
		return fmt.Errorf("%w: pulling %s: %v", crierrors.ErrSignatureValidationFailed, named, err)
	case isUnauthorized(err):
		return fmt.Errorf("pulling %s: the registry refused the credentials: %v: %w", named, err, errdefs.ErrUnauthenticated)
	case isBlocked(err):
		return fmt.Errorf("pulling %s: %v: %w", named, err, errdefs.ErrPermissionDenied)
	case isNotFound(err):
		return fmt.Errorf("pulling %s: image not found: %v: %w", named, err, errdefs.ErrNotFound)
	case isUnavailable(err):
		return fmt.Errorf("%w: pulling %s: %v", crierrors.ErrRegistryUnavailable, named, err)
	}
	return fmt.Errorf("pulling %s: %w", named, err)
}

func isSignatureError(err error) bool {
	var pre signature.PolicyRequirementError
	return errors.As(err, &pre)
}

func isUnauthorized(err error) bool {
	var unauth docker.ErrUnauthorizedForCredentials
	if errors.As(err, &unauth) {
		return true
	}
	return hasErrcode(err, errcode.ErrorCodeUnauthorized, errcode.ErrorCodeDenied) || hasStatus(err, http.StatusUnauthorized, http.StatusForbidden)
}

func isBlocked(err error) bool {
	return strings.Contains(err.Error(), "is blocked in ") || strings.Contains(err.Error(), "registry is blocked")
}

func isNotFound(err error) bool {
	return hasErrcode(err, v2.ErrorCodeManifestUnknown, v2.ErrorCodeNameUnknown, v2.ErrorCodeBlobUnknown) ||
		hasStatus(err, http.StatusNotFound) || strings.Contains(err.Error(), "manifest unknown")
}

// isUnavailable tells whether the registry could not be reached or
// failed on its side: refused or reset connections, name resolution,
// timeouts, 429 and 5xx answers.
func isUnavailable(err error) bool {
	var (
		netErr net.Error
		dnsErr *net.DNSError
		opErr  *net.OpError
	)
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		// Only timeouts: syscall.Errno satisfies net.Error too.
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, docker.ErrTooManyRequests):
		return true
	case hasErrcode(err, errcode.ErrorCodeUnavailable, errcode.ErrorCodeTooManyRequests):
		return true
	}
	for code := 500; code < 600; code++ {
		if hasStatus(err, code) {
			return true
		}
	}
	return false
}

func hasErrcode(err error, codes ...errcode.ErrorCode) bool {
	var (
		e    errcode.Error
		code errcode.ErrorCode
		errs errcode.Errors
	)
	var found []errcode.ErrorCode
	if errors.As(err, &e) {
		found = append(found, e.Code)
	}
	if errors.As(err, &code) {
		found = append(found, code)
	}
	if errors.As(err, &errs) {
		for _, x := range errs {
			if ee, ok := x.(errcode.Error); ok {
				found = append(found, ee.Code)
			}
		}
	}
	for _, f := range found {
		for _, c := range codes {
			if f == c {
				return true
			}
		}
	}
	return false
}

func hasStatus(err error, codes ...int) bool {
	var u docker.UnexpectedHTTPStatusError
	if !errors.As(err, &u) {
		return false
	}
	for _, c := range codes {
		if u.StatusCode == c {
			return true
		}
	}
	return false
}
