package cri

import (
	"fmt"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/storage/pkg/idtools"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/specgen"
	"github.com/cria-runtime/cria/image"
)

// ownUserns tells whether u asks for a user namespace of the pod's own.
// Options left out mean the host's (POD is the enum's zero value).
func ownUserns(u *runtimeapi.UserNamespace) bool {
	return u != nil && u.GetMode() == runtimeapi.NamespaceMode_POD
}

// idMappings returns the mappings of a pod's own user namespace (checked
// by validation), or nil for the host's.
func idMappings(u *runtimeapi.UserNamespace) *network.IDMappings {
	if !ownUserns(u) {
		return nil
	}
	conv := func(in []*runtimeapi.IDMapping) []syscall.SysProcIDMap {
		out := make([]syscall.SysProcIDMap, len(in))
		for i, m := range in {
			out[i] = syscall.SysProcIDMap{ContainerID: int(m.GetContainerId()), HostID: int(m.GetHostId()), Size: int(m.GetLength())}
		}
		return out
	}
	return &network.IDMappings{UIDs: conv(u.GetUids()), GIDs: conv(u.GetGids())}
}

// storageMappings are m for containers/storage.
func storageMappings(m *network.IDMappings) *image.IDMappings {
	if m == nil {
		return nil
	}
	conv := func(in []syscall.SysProcIDMap) []idtools.IDMap {
		out := make([]idtools.IDMap, len(in))
		for i, x := range in {
			out[i] = idtools.IDMap{ContainerID: x.ContainerID, HostID: x.HostID, Size: x.Size}
		}
		return out
	}
	return &image.IDMappings{UIDs: conv(m.UIDs), GIDs: conv(m.GIDs)}
}

// probeUserns tells whether this node can run pods in user namespaces of
// their own, and if not, why: the kernel must idmap the storage driver's
// image layers (overlay's idmapped lower layers), tmpfs (the pod's
// /dev/shm, Kubernetes' secret volumes) and the filesystem of dir (where
// the kubelet's volumes live).
func probeUserns(images *image.Service, dir string) (bool, string) {
	if err := network.ProbeIDMappedMounts(dir); err != nil {
		return false, fmt.Sprintf("idmapped mounts: %v", err)
	}
	probe := []idtools.IDMap{{ContainerID: 0, HostID: 1 << 30, Size: 65536}}
	if images != nil && !images.CanIDMapLayers(image.IDMappings{UIDs: probe, GIDs: probe}) {
		return false, "the storage driver cannot mount image layers through ID mappings (overlay with idmapped lower layers is needed)"
	}
	return true, ""
}

// specMappings are m for the OCI spec.
func specMappings(m *network.IDMappings) *specgen.IDMappings {
	if m == nil {
		return nil
	}
	conv := func(in []syscall.SysProcIDMap) []specs.LinuxIDMapping {
		out := make([]specs.LinuxIDMapping, len(in))
		for i, x := range in {
			out[i] = specs.LinuxIDMapping{ContainerID: uint32(x.ContainerID), HostID: uint32(x.HostID), Size: uint32(x.Size)}
		}
		return out
	}
	return &specgen.IDMappings{UIDs: conv(m.UIDs), GIDs: conv(m.GIDs)}
}
