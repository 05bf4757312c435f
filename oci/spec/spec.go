// Package spec builds OCI runtime specs from small composable options over
// a default, as containerd's oci package does. It knows nothing of the CRI.
package spec

import (
	"fmt"
	"path"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Opt changes a spec.
type Opt func(*specs.Spec) error

// Apply applies opts in order to s; the first error stops it.
func Apply(s *specs.Spec, opts ...Opt) error {
	for _, o := range opts {
		if err := o(s); err != nil {
			return err
		}
	}
	return nil
}

// DefaultCapabilities is the set a container gets unless it asks otherwise,
// the same as containerd's and Docker's.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// DefaultMaskedPaths and DefaultReadonlyPaths hide or protect what in
// /proc and /sys would let a container see or change the host.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// Default returns a fresh spec for an unprivileged Linux container: the
// usual pseudo-filesystems, default capabilities, masked and read-only
// paths, and a mount namespace of its own.
func Default() *specs.Spec {
	caps := DefaultCapabilities()
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			Cwd: "/",
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits: []specs.POSIXRlimit{},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			MaskedPaths:   DefaultMaskedPaths(),
			ReadonlyPaths: DefaultReadonlyPaths(),
			Namespaces:    []specs.LinuxNamespace{{Type: specs.MountNamespace}},
			Resources:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
		},
	}
}

// WithRootfs sets the root filesystem's absolute path and whether it is
// read-only.
func WithRootfs(p string, readonly bool) Opt {
	return func(s *specs.Spec) error {
		if !path.IsAbs(p) {
			return fmt.Errorf("rootfs %q is not absolute", p)
		}
		s.Root = &specs.Root{Path: p, Readonly: readonly}
		return nil
	}
}

// WithArgs sets the process's argv.
func WithArgs(args []string) Opt {
	return func(s *specs.Spec) error {
		if len(args) == 0 {
			return fmt.Errorf("no command to run")
		}
		s.Process.Args = args
		return nil
	}
}

// WithEnv sets variables, replacing those of the same name: later
// variables override earlier ones.
func WithEnv(env []string) Opt {
	return func(s *specs.Spec) error {
		s.Process.Env = MergeEnv(s.Process.Env, env)
		return nil
	}
}

// MergeEnv returns base with each of over set ("K=V"), in base's order with
// new keys appended.
func MergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// WithCwd sets the working directory.
func WithCwd(dir string) Opt {
	return func(s *specs.Spec) error {
		if !path.IsAbs(dir) {
			return fmt.Errorf("working directory %q is not absolute", dir)
		}
		s.Process.Cwd = dir
		return nil
	}
}

// WithHostname sets the hostname.
func WithHostname(h string) Opt {
	return func(s *specs.Spec) error { s.Hostname = h; return nil }
}

// WithUser sets uid, gid and additional gids.
func WithUser(uid, gid uint32, additional []uint32) Opt {
	return func(s *specs.Spec) error {
		s.Process.User = specs.User{UID: uid, GID: gid, AdditionalGids: additional}
		return nil
	}
}

// WithCapabilities sets the bounding, effective and permitted sets (and
// ambient/inheritable empty).
func WithCapabilities(caps []string) Opt {
	return func(s *specs.Spec) error {
		c := append([]string(nil), caps...)
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
		return nil
	}
}

// WithNamespace puts the container in the namespace at nsPath, or in a new
// one when nsPath is empty.
func WithNamespace(t specs.LinuxNamespaceType, nsPath string) Opt {
	return func(s *specs.Spec) error {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == t {
				s.Linux.Namespaces[i].Path = nsPath
				return nil
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: nsPath})
		return nil
	}
}

// WithHostNamespace leaves the container in the host's namespace of type t.
func WithHostNamespace(t specs.LinuxNamespaceType) Opt {
	return func(s *specs.Spec) error {
		ns := s.Linux.Namespaces[:0]
		for _, n := range s.Linux.Namespaces {
			if n.Type != t {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		return nil
	}
}

// WithMounts adds mounts; a mount replaces any earlier one at the same
// destination. Mounts are kept sorted so that parents come before children.
func WithMounts(mounts ...specs.Mount) Opt {
	return func(s *specs.Spec) error {
		for _, m := range mounts {
			if !path.IsAbs(m.Destination) {
				return fmt.Errorf("mount destination %q is not absolute", m.Destination)
			}
			m.Destination = path.Clean(m.Destination)
			kept := s.Mounts[:0]
			for _, old := range s.Mounts {
				if old.Destination != m.Destination {
					kept = append(kept, old)
				}
			}
			s.Mounts = append(kept, m)
		}
		sort.SliceStable(s.Mounts, func(i, j int) bool {
			return strings.Count(s.Mounts[i].Destination, "/") < strings.Count(s.Mounts[j].Destination, "/")
		})
		return nil
	}
}

// HasMount tells whether s mounts something at dest.
func HasMount(s *specs.Spec, dest string) bool {
	dest = path.Clean(dest)
	for _, m := range s.Mounts {
		if m.Destination == dest {
			return true
		}
	}
	return false
}

// WithMaskedPaths and WithReadonlyPaths set the lists.
func WithMaskedPaths(p []string) Opt {
	return func(s *specs.Spec) error { s.Linux.MaskedPaths = append([]string(nil), p...); return nil }
}

func WithReadonlyPaths(p []string) Opt {
	return func(s *specs.Spec) error { s.Linux.ReadonlyPaths = append([]string(nil), p...); return nil }
}

// WithNoNewPrivileges sets no_new_privs.
func WithNoNewPrivileges(on bool) Opt {
	return func(s *specs.Spec) error { s.Process.NoNewPrivileges = on; return nil }
}

// WithOOMScoreAdj sets the process's OOM score adjustment.
func WithOOMScoreAdj(v int) Opt {
	return func(s *specs.Spec) error { s.Process.OOMScoreAdj = &v; return nil }
}

// WithTerminal allocates a terminal for the process.
func WithTerminal(on bool) Opt {
	return func(s *specs.Spec) error { s.Process.Terminal = on; return nil }
}

// WithCgroupsPath sets the container's cgroup.
func WithCgroupsPath(p string) Opt {
	return func(s *specs.Spec) error { s.Linux.CgroupsPath = p; return nil }
}

// WithResources sets cgroup limits, keeping the device rules already set.
func WithResources(r *specs.LinuxResources) Opt {
	return func(s *specs.Spec) error {
		if r == nil {
			return nil
		}
		devices := s.Linux.Resources.Devices
		c := *r
		c.Devices = append(devices, r.Devices...)
		s.Linux.Resources = &c
		return nil
	}
}

// WithDevices adds device nodes, each allowed in the device cgroup with
// its permissions.
func WithDevices(devs ...specs.LinuxDevice) Opt {
	return func(s *specs.Spec) error {
		for _, d := range devs {
			s.Linux.Devices = append(s.Linux.Devices, d)
		}
		return nil
	}
}

// WithDeviceRules adds device cgroup rules.
func WithDeviceRules(rules ...specs.LinuxDeviceCgroup) Opt {
	return func(s *specs.Spec) error {
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rules...)
		return nil
	}
}

// WithAnnotations adds annotations.
func WithAnnotations(a map[string]string) Opt {
	return func(s *specs.Spec) error {
		if len(a) == 0 {
			return nil
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		for k, v := range a {
			s.Annotations[k] = v
		}
		return nil
	}
}
