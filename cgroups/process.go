package cgroups

import (
	"fmt"
	"path"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// ValidateParent checks a CRI cgroup_parent for driver: a clean absolute
// path for cgroupfs, a slice name for systemd. Empty is allowed (no parent).
func ValidateParent(d Driver, parent string) error {
	if parent == "" {
		return nil
	}
	if d == Systemd {
		if !strings.HasSuffix(parent, ".slice") || strings.Contains(parent, "/") {
			return fmt.Errorf("cgroup_parent %q: with the systemd driver it must be a slice name such as \"kubepods-besteffort.slice\"", parent)
		}
		return nil
	}
	if !strings.HasPrefix(parent, "/") || path.Clean(parent) != parent || strings.Contains(parent, "..") {
		return fmt.Errorf("cgroup_parent %q: with the cgroupfs driver it must be a clean absolute path such as \"/kubepods/besteffort\"", parent)
	}
	return nil
}

// ProcessCgroup names a cgroup that cria made for one of its own processes
// (a pod's pause process).
type ProcessCgroup struct {
	Driver Driver `json:"driver"`
	Parent string `json:"parent"`
	Name   string `json:"name"`
}

func (c ProcessCgroup) config() *cgroups.Cgroup {
	cfg := &cgroups.Cgroup{Resources: &cgroups.Resources{SkipDevices: true}}
	if c.Driver == Systemd {
		cfg.Systemd = true
		cfg.Parent = c.Parent
		cfg.ScopePrefix = "cria"
		cfg.Name = c.Name
	} else {
		cfg.Path = path.Join("/", c.Parent, c.Name)
	}
	return cfg
}

// Apply creates the cgroup (and, with cgroupfs, any missing parent) and
// moves pid into it.
func (c ProcessCgroup) Apply(pid int) error {
	m, err := manager.New(c.config())
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", c, err)
	}
	if err := m.Apply(pid); err != nil {
		return fmt.Errorf("cgroup %s: moving pid %d: %w", c, pid, err)
	}
	return nil
}

// Destroy removes the cgroup; its processes must have exited. Removing a
// cgroup that is gone succeeds. Parents are left to whoever made them.
func (c ProcessCgroup) Destroy() error {
	m, err := manager.New(c.config())
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", c, err)
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("removing cgroup %s: %w", c, err)
	}
	return nil
}

func (c ProcessCgroup) String() string { return path.Join(c.Parent, c.Name) }
