// Package cgroups is cria's one home for github.com/opencontainers/cgroups:
// which driver and hierarchy are in use, pod and container cgroup paths,
// resources and stats. It imports no other cria package.
package cgroups

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
)

// Driver names a cgroup driver as the kubelet spells it.
type Driver string

const (
	// Cgroupfs manages cgroups by writing to the cgroup filesystem.
	Cgroupfs Driver = "cgroupfs"
	// Systemd manages cgroups as systemd units (slices and scopes).
	Systemd Driver = "systemd"
)

// ResolveDriver returns the driver cria will use for the requested one.
// systemd is used only where systemd is the running init; otherwise cria
// falls back to cgroupfs and says why in warning, which the caller logs.
// The returned driver is the truth that RuntimeConfig reports to the kubelet.
func ResolveDriver(requested string) (d Driver, warning string, err error) {
	switch Driver(requested) {
	case Cgroupfs:
		return Cgroupfs, "", nil
	case Systemd:
		if !systemd.IsRunningSystemd() {
			return Cgroupfs, "cgroup_driver is \"systemd\" but systemd is not the running init (no /run/systemd/system); using \"cgroupfs\"", nil
		}
		return Systemd, "", nil
	}
	return "", "", fmt.Errorf("unknown cgroup driver %q", requested)
}

// Hierarchy describes the host's cgroup layout: "v2" (unified), "v1", or
// "hybrid" (v1 controllers with a v2 mount for process tracking).
func Hierarchy() string {
	switch {
	case cgroups.IsCgroup2UnifiedMode():
		return "v2"
	case cgroups.IsCgroup2HybridMode():
		return "hybrid"
	}
	return "v1"
}
