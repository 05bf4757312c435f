package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kubeAPIVersion is the CRI's own "version of the kubelet runtime API" field,
// which every runtime reports as 0.1.0.
const kubeAPIVersion = "0.1.0"

// Version reports the runtime's name and version and the CRI API version.
func (s *RuntimeService) Version(ctx context.Context, req *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           kubeAPIVersion,
		RuntimeName:       RuntimeName,
		RuntimeVersion:    s.opts.Version,
		RuntimeApiVersion: "v1",
	}, nil
}
