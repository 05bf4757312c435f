// Package specgen translates a CRI container config, its sandbox and its
// image into an OCI runtime spec. It does no I/O: everything it needs from
// the host (device numbers, the image's account files, profiles read from
// disk) comes in Input, so table tests cover every field.
package specgen

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/profiles/seccomp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/oci/spec"
)

// Sandbox is what a container takes from its pod.
type Sandbox struct {
	ID       string
	Hostname string
	// NetNS, IPCNS, UTSNS are pinned namespace files; empty means the
	// host's namespace.
	NetNS, IPCNS, UTSNS string
	// PIDMode is "pod", "container" or "node" (the pod's default); PIDNS
	// is the pin of the pod's shared PID namespace when the mode is "pod".
	PIDMode string
	PIDNS   string
	// CgroupParent is the pod's cgroup_parent.
	CgroupParent string
	// Files the pod shares with its containers.
	HostsPath, ResolvPath, HostnamePath, ShmPath string
	// UserNS is the pin of the pod's own user namespace, empty for the
	// host's; IDMappings are its mappings.
	UserNS     string
	IDMappings *IDMappings
}

// IDMappings are a user namespace's mappings, container ID to host ID.
type IDMappings struct {
	UIDs, GIDs []specs.LinuxIDMapping
}

// Device is a host device node's facts.
type Device struct {
	Type         string // "c" or "b"
	Major, Minor int64
	FileMode     uint32
	UID, GID     uint32
}

// Input is everything Generate needs.
type Input struct {
	ID     string
	Config *runtimeapi.ContainerConfig
	// SandboxConfig is the pod's CRI config (for its security context).
	SandboxConfig *runtimeapi.PodSandboxConfig
	Sandbox       Sandbox
	// Image is the image's OCI config.
	Image ocispec.ImageConfig
	// Rootfs is the mounted root filesystem's absolute path.
	Rootfs string
	// User is the resolved process identity (see ResolveUser).
	User User
	// ImageMounts maps the index of each CRI mount that names an image
	// to the host path of that image's mounted layer (or sub path).
	ImageMounts map[int]string
	// CgroupDriver is the driver in use.
	CgroupDriver cgroups.Driver
	// CgroupV2 tells whether the host runs the unified hierarchy, where an
	// unprivileged container gets a cgroup namespace of its own.
	CgroupV2 bool
	// Devices are host devices by host path: those the config names, and
	// for a privileged container every device on the host.
	Devices map[string]Device
	// AppArmorEnabled tells whether the kernel enforces AppArmor;
	// AppArmorDefault is the loaded profile for RuntimeDefault ("" if it
	// could not be loaded, AppArmorDefaultErr says why).
	AppArmorEnabled                     bool
	AppArmorDefault, AppArmorDefaultErr string
	// SELinuxEnabled tells whether the host enforces SELinux: cria applies
	// no SELinux labels, so there a relabel asked for is refused (on other
	// hosts there is nothing to relabel for).
	SELinuxEnabled bool
	// SeccompLocalhost is the content of the Localhost seccomp profile the
	// config names, read by the caller from a checked path.
	SeccompLocalhost []byte
	// TargetPIDNS is the pin of the target container's PID namespace for
	// the TARGET PID namespace mode.
	TargetPIDNS string
	// OOMScoreAdjFloor, when set, is the lowest oom_score_adj a container
	// can be given: the daemon lacks CAP_SYS_RESOURCE, so no process it
	// starts can go below its own value, and a lower one asked for (the
	// kubelet's -997 for a Guaranteed pod) is raised to it rather than
	// fail the container's start (containerd's restrict_oom_score_adj).
	OOMScoreAdjFloor *int
	// HostCapabilities are the capabilities the daemon holds: what a
	// privileged container, or one that adds "ALL", gets. Nil means every
	// capability.
	HostCapabilities []string
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// Generate builds the container's OCI spec.
//
// The order is deliberate:
//  1. the default spec (mounts, capabilities, masked paths);
//  2. process: args from CRI command/args over the image's entrypoint/cmd;
//     the image's env first so that the CRI's env overrides it; working
//     directory from CRI, else image, else "/";
//  3. identity, then capabilities and privileged (which widen what 1 set);
//  4. namespaces from the pod;
//  5. the pod's files, image volumes, then CRI mounts (last, so that they
//     win at any destination);
//  6. devices, resources, cgroup path, sysctls;
//  7. seccomp last: the default profile depends on the final capabilities.
func Generate(in Input) (*specs.Spec, error) {
	c := in.Config
	if c == nil {
		return nil, invalid("config is required")
	}
	lc := c.GetLinux()
	sc := lc.GetSecurityContext()
	privileged := sc.GetPrivileged()
	if privileged && !in.SandboxConfig.GetLinux().GetSecurityContext().GetPrivileged() {
		return nil, invalid("config.linux.security_context.privileged: the pod is not privileged")
	}
	if err := CheckSELinux("config.linux.security_context.selinux_options", sc.GetSelinuxOptions(), in.SELinuxEnabled); err != nil {
		return nil, err
	}
	for i, m := range c.GetMounts() {
		if m.GetSelinuxRelabel() && in.SELinuxEnabled {
			return nil, fmt.Errorf("config.mounts[%d].selinux_relabel: cria does not relabel volumes for SELinux: %w", i, errdefs.ErrFailedPrecondition)
		}
	}
	s := spec.Default()

	args, err := Args(c.GetCommand(), c.GetArgs(), in.Image.Entrypoint, in.Image.Cmd)
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(c.GetEnvs()))
	for i, kv := range c.GetEnvs() {
		if kv.Key == "" || strings.Contains(kv.Key, "=") {
			return nil, invalid("config.envs[%d]: %q is not a variable name", i, kv.Key)
		}
		env = append(env, kv.Key+"="+string(kv.Value))
	}
	cwd := c.GetWorkingDir()
	if cwd == "" {
		cwd = in.Image.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, invalid("config.working_dir %q is not absolute", cwd)
	}
	opts := []spec.Opt{
		spec.WithRootfs(in.Rootfs, sc.GetReadonlyRootfs()),
		spec.WithArgs(args),
		spec.WithEnv(in.Image.Env),
		spec.WithEnv(env),
		spec.WithCwd(cwd),
		spec.WithTerminal(c.GetTty()),
		spec.WithUser(in.User.UID, in.User.GID, in.User.AdditionalGids),
		spec.WithNoNewPrivileges(sc.GetNoNewPrivs()),
		spec.WithAnnotations(c.GetAnnotations()),
	}
	if in.Sandbox.UTSNS != "" {
		// In the host's UTS namespace the hostname is the host's own.
		opts = append(opts, spec.WithHostname(in.Sandbox.Hostname))
	}
	caps, err := Capabilities(spec.DefaultCapabilities(), sc.GetCapabilities(), privileged, in.HostCapabilities)
	if err != nil {
		return nil, err
	}
	opts = append(opts, spec.WithCapabilities(caps))
	if privileged {
		opts = append(opts, spec.WithMaskedPaths(nil), spec.WithReadonlyPaths(nil), withWritableSysfsAndCgroup)
	} else {
		masked, ro := sc.GetMaskedPaths(), sc.GetReadonlyPaths()
		if len(masked) == 0 {
			masked = spec.DefaultMaskedPaths()
		}
		if len(ro) == 0 {
			ro = spec.DefaultReadonlyPaths()
		}
		opts = append(opts, spec.WithMaskedPaths(masked), spec.WithReadonlyPaths(ro))
	}
	nsOpts, err := namespaceOpts(in, sc.GetNamespaceOptions())
	if err != nil {
		return nil, err
	}
	opts = append(opts, nsOpts...)
	if in.Sandbox.UserNS != "" {
		// The pod's user namespace, joined by its pin: libcontainer reads
		// the mappings from it.
		opts = append(opts, spec.WithNamespace(specs.UserNamespace, in.Sandbox.UserNS))
		if in.Sandbox.NetNS == "" {
			opts = append(opts, withHostSysfs)
		}
	}
	if in.CgroupV2 && !privileged {
		// As the cgroup v2 KEP asks, and as containerd and CRI-O do: the
		// container's own cgroup is the root of its /sys/fs/cgroup and of
		// /proc/self/cgroup. (On v1 the container keeps the host's cgroup
		// namespace and sees its own cgroups through bind mounts.)
		opts = append(opts, spec.WithNamespace(specs.CgroupNamespace, ""))
	}
	if err := spec.Apply(s, opts...); err != nil {
		return nil, invalid("%v", err)
	}

	mounts, err := Mounts(in)
	if err != nil {
		return nil, err
	}
	s.Linux.RootfsPropagation = rootfsPropagation(in.Config.GetMounts())
	if err := spec.Apply(s, spec.WithMounts(mounts...)); err != nil {
		return nil, invalid("%v", err)
	}
	if err := applyDevices(s, in, privileged); err != nil {
		return nil, err
	}
	res := cgroups.ToOCI(lc.GetResources())
	opts = []spec.Opt{
		spec.WithResources(res),
		spec.WithCgroupsPath(cgroups.ContainerPath(in.CgroupDriver, in.Sandbox.CgroupParent, in.ID)),
	}
	if lc.GetResources() != nil && lc.GetResources().OomScoreAdj != 0 {
		adj := int(lc.GetResources().OomScoreAdj)
		if f := in.OOMScoreAdjFloor; f != nil && adj < *f {
			adj = *f
		}
		opts = append(opts, spec.WithOOMScoreAdj(adj))
	}
	if err := spec.Apply(s, opts...); err != nil {
		return nil, invalid("%v", err)
	}

	if err := applyAppArmor(s, sc, in, privileged); err != nil {
		return nil, err
	}
	if err := applySeccomp(s, sc, in.SeccompLocalhost, privileged); err != nil {
		return nil, err
	}
	return s, nil
}

// Args merges the CRI's command and args with the image's entrypoint and
// cmd as Kubernetes defines it: command replaces the entrypoint (and then
// the image's cmd is not used); args replace the cmd.
func Args(command, args, entrypoint, cmd []string) ([]string, error) {
	var out []string
	switch {
	case len(command) > 0:
		out = append(append(out, command...), args...)
	case len(args) > 0:
		out = append(append(out, entrypoint...), args...)
	default:
		out = append(append(out, entrypoint...), cmd...)
	}
	if len(out) == 0 {
		return nil, invalid("config.command: none given and the image has no entrypoint or cmd")
	}
	return out, nil
}

// Capabilities applies CRI's add and drop lists (with "ALL" in either) to
// base, in containerd's order: add ALL, drop ALL, each add, each drop. "ALL" and privileged mean every capability the host grants (host;
// nil means every capability there is): asking for more would fail.
func Capabilities(base []string, c *runtimeapi.Capability, privileged bool, host []string) ([]string, error) {
	all := host
	if all == nil {
		all = allCapabilities()
	}
	if privileged {
		return append([]string(nil), all...), nil
	}
	norm := func(list []string, field string) ([]string, bool, error) {
		var out []string
		all := false
		for _, cp := range list {
			cp = strings.ToUpper(cp)
			if cp == "ALL" {
				all = true
				continue
			}
			if !strings.HasPrefix(cp, "CAP_") {
				cp = "CAP_" + cp
			}
			if !knownCapability(cp) {
				return nil, false, invalid("config.linux.security_context.capabilities.%s: unknown capability %q", field, cp)
			}
			out = append(out, cp)
		}
		return out, all, nil
	}
	add, addAll, err := norm(c.GetAddCapabilities(), "add_capabilities")
	if err != nil {
		return nil, err
	}
	drop, dropAll, err := norm(c.GetDropCapabilities(), "drop_capabilities")
	if err != nil {
		return nil, err
	}
	// containerd's and CRI-O's order (kubernetes#51980): add ALL, then
	// drop ALL, then each add, then each drop. So a named drop always wins
	// over add ALL, and drop ALL empties the set before the named adds.
	set := map[string]bool{}
	for _, cp := range base {
		set[cp] = true
	}
	if addAll {
		for _, cp := range all {
			set[cp] = true
		}
	}
	if dropAll {
		clear(set)
	}
	for _, cp := range add {
		set[cp] = true
	}
	for _, cp := range drop {
		delete(set, cp)
	}
	out := make([]string, 0, len(set))
	for cp := range set {
		out = append(out, cp)
	}
	sort.Strings(out)
	return out, nil
}

// withWritableSysfsAndCgroup is what CRI asks for privileged containers.
func withWritableSysfsAndCgroup(s *specs.Spec) error {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == "/sys" || s.Mounts[i].Destination == "/sys/fs/cgroup" {
			opts := s.Mounts[i].Options[:0:0]
			for _, o := range s.Mounts[i].Options {
				if o != "ro" {
					opts = append(opts, o)
				}
			}
			s.Mounts[i].Options = append(opts, "rw")
		}
	}
	return nil
}

func namespaceOpts(in Input, ns *runtimeapi.NamespaceOption) ([]spec.Opt, error) {
	var opts []spec.Opt
	for _, n := range []struct {
		t    specs.LinuxNamespaceType
		path string
	}{{specs.NetworkNamespace, in.Sandbox.NetNS}, {specs.IPCNamespace, in.Sandbox.IPCNS}, {specs.UTSNamespace, in.Sandbox.UTSNS}} {
		if n.path == "" {
			opts = append(opts, spec.WithHostNamespace(n.t))
		} else {
			opts = append(opts, spec.WithNamespace(n.t, n.path))
		}
	}
	switch ns.GetPid() {
	case runtimeapi.NamespaceMode_NODE:
		opts = append(opts, spec.WithHostNamespace(specs.PIDNamespace))
	case runtimeapi.NamespaceMode_POD:
		// "The pod's": its shared namespace, the host's if the pod uses
		// the host's, or, for a pod whose containers do not share, one of
		// the container's own (what the CRI's zero value means there).
		switch {
		case in.Sandbox.PIDMode == "pod" && in.Sandbox.PIDNS != "":
			opts = append(opts, spec.WithNamespace(specs.PIDNamespace, in.Sandbox.PIDNS))
		case in.Sandbox.PIDMode == "pod":
			return nil, invalid("config.linux.security_context.namespace_options.pid: POD, but the pod's pause process is gone")
		case in.Sandbox.PIDMode == "node":
			opts = append(opts, spec.WithHostNamespace(specs.PIDNamespace))
		default:
			opts = append(opts, spec.WithNamespace(specs.PIDNamespace, ""))
		}
	case runtimeapi.NamespaceMode_TARGET:
		if in.TargetPIDNS == "" {
			return nil, invalid("config.linux.security_context.namespace_options.target_id: the target container is not running")
		}
		opts = append(opts, spec.WithNamespace(specs.PIDNamespace, in.TargetPIDNS))
	default:
		opts = append(opts, spec.WithNamespace(specs.PIDNamespace, ""))
	}
	return opts, nil
}

// Mounts returns the container's mounts: the pod's files and /dev/shm,
// the image's volumes, then the CRI's mounts (which win).
func Mounts(in Input) ([]specs.Mount, error) {
	var out []specs.Mount
	bind := func(src, dst string, ro bool) specs.Mount {
		opts := []string{"rbind", "rprivate"}
		if ro {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rw")
		}
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
	}
	criDests := map[string]bool{}
	for _, m := range in.Config.GetMounts() {
		criDests[path.Clean(m.ContainerPath)] = true
	}
	sb := in.Sandbox
	for _, f := range []struct{ src, dst string }{
		{sb.HostsPath, "/etc/hosts"}, {sb.ResolvPath, "/etc/resolv.conf"}, {sb.HostnamePath, "/etc/hostname"}, {sb.ShmPath, "/dev/shm"},
	} {
		if f.src != "" && !criDests[f.dst] {
			ro := in.Config.GetLinux().GetSecurityContext().GetReadonlyRootfs() && f.dst != "/dev/shm"
			mnt := bind(f.src, f.dst, ro)
			if m := sb.IDMappings; m != nil {
				// The pod's files are the host root's: idmapped, they
				// are container root's, who can write them as before.
				mnt.UIDMappings, mnt.GIDMappings = m.UIDs, m.GIDs
			}
			out = append(out, mnt)
		}
	}
	for i, m := range in.Config.GetMounts() {
		if !path.IsAbs(m.ContainerPath) {
			return nil, invalid("config.mounts[%d].container_path %q is not absolute", i, m.ContainerPath)
		}
		hostPath := m.HostPath
		if m.Image != nil {
			// An image volume: its layer, bound read-only.
			if hostPath = in.ImageMounts[i]; hostPath == "" {
				return nil, invalid("config.mounts[%d].image %q is not mounted", i, m.Image.Image)
			}
		}
		if !path.IsAbs(hostPath) {
			return nil, invalid("config.mounts[%d].host_path %q is not absolute", i, hostPath)
		}
		mnt := bind(hostPath, m.ContainerPath, m.Readonly || m.Image != nil)
		switch m.Propagation {
		case runtimeapi.MountPropagation_PROPAGATION_PRIVATE:
		case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
			mnt.Options[1] = "rslave"
		case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
			mnt.Options[1] = "rshared"
		default:
			return nil, invalid("config.mounts[%d].propagation %v is unknown", i, m.Propagation)
		}
		if len(m.UidMappings) > 0 && m.Image == nil {
			// An idmapped mount (the kubelet gives each mount the pod's
			// mappings): the volume's files are seen through them. An
			// image volume's layer is already seen through the pod's.
			mnt.UIDMappings, mnt.GIDMappings = ociMappings(m.UidMappings), ociMappings(m.GidMappings)
		}
		if m.RecursiveReadOnly {
			// Read-only all the way down (mount_setattr), which only a
			// private, read-only mount can be.
			switch {
			case !m.Readonly:
				return nil, invalid("config.mounts[%d].recursive_read_only needs readonly", i)
			case m.Propagation != runtimeapi.MountPropagation_PROPAGATION_PRIVATE:
				return nil, invalid("config.mounts[%d].recursive_read_only needs private propagation, not %v", i, m.Propagation)
			}
			mnt.Options = append(mnt.Options, "rro")
		}
		out = append(out, mnt)
	}
	return out, nil
}

func ociMappings(in []*runtimeapi.IDMapping) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, len(in))
	for i, m := range in {
		out[i] = specs.LinuxIDMapping{ContainerID: m.ContainerId, HostID: m.HostId, Size: m.Length}
	}
	return out
}

// withHostSysfs binds the host's /sys read-only in place of a sysfs
// mount, which a user namespace that does not own the network namespace
// (the host's network) cannot make.
func withHostSysfs(s *specs.Spec) error {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == "/sys" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "rprivate", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
	return nil
}

// rootfsPropagation is the propagation of the container's root mount: a
// mount shared with the host (Bidirectional) needs a shared root, one
// that receives the host's mounts (HostToContainer) at least a slave root;
// otherwise it stays private (empty: libcontainer's default).
func rootfsPropagation(mounts []*runtimeapi.Mount) string {
	out := ""
	for _, m := range mounts {
		switch m.GetPropagation() {
		case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
			return "rshared"
		case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
			out = "rslave"
		}
	}
	return out
}

func applyDevices(s *specs.Spec, in Input, privileged bool) error {
	add := func(hostPath, ctrPath, perms string) error {
		d, ok := in.Devices[hostPath]
		if !ok {
			return invalid("device %q is not a device on this host", hostPath)
		}
		for _, p := range perms {
			if !strings.ContainsRune("rwm", p) {
				return invalid("device %q: permissions %q, want a combination of r, w and m", hostPath, perms)
			}
		}
		mode := os.FileMode(d.FileMode)
		uid, gid := d.UID, d.GID
		major, minor := d.Major, d.Minor
		if err := spec.Apply(s,
			spec.WithDevices(specs.LinuxDevice{Path: ctrPath, Type: d.Type, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid}),
			spec.WithDeviceRules(specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: perms}),
		); err != nil {
			return invalid("%v", err)
		}
		return nil
	}
	if privileged {
		hostPaths := make([]string, 0, len(in.Devices))
		for p := range in.Devices {
			hostPaths = append(hostPaths, p)
		}
		sort.Strings(hostPaths)
		for _, p := range hostPaths {
			if err := add(p, p, "rwm"); err != nil {
				return err
			}
		}
		// And every device in the cgroup, as for the host.
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	for i, d := range in.Config.GetDevices() {
		if !path.IsAbs(d.ContainerPath) {
			return invalid("config.devices[%d].container_path %q is not absolute", i, d.ContainerPath)
		}
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		if err := add(d.HostPath, d.ContainerPath, perms); err != nil {
			return fmt.Errorf("config.devices[%d]: %w", i, err)
		}
	}
	return nil
}

// CheckSELinux refuses SELinux options (FailedPrecondition, naming field)
// on a host that enforces SELinux: cria applies no SELinux labels, and says
// so rather than run a workload without the label it asked for. Where the
// kernel has no SELinux there is no label to apply, and the options are
// accepted, as containerd and CRI-O do (the kubelet and the node e2e suite
// set them on ordinary pods).
func CheckSELinux(field string, o *runtimeapi.SELinuxOption, hostEnforces bool) error {
	if !hostEnforces || (o.GetUser() == "" && o.GetRole() == "" && o.GetType() == "" && o.GetLevel() == "") {
		return nil
	}
	return fmt.Errorf("%s: cria does not apply SELinux labels: %w", field, errdefs.ErrFailedPrecondition)
}

// applyAppArmor sets the container's AppArmor profile, as containerd
// does: on a host that enforces AppArmor an unprivileged container gets
// the runtime's default profile unless it asks for another (Localhost) or
// for none (Unconfined); a privileged one gets none unless it names one.
// Without AppArmor in the kernel the default is no profile, and a
// Localhost profile cannot be had.
func applyAppArmor(s *specs.Spec, sc *runtimeapi.LinuxContainerSecurityContext, in Input, privileged bool) error {
	p := sc.GetApparmor()
	const field = "config.linux.security_context.apparmor"
	switch {
	case p.GetProfileType() == runtimeapi.SecurityProfile_Localhost:
		name := strings.TrimPrefix(p.GetLocalhostRef(), "localhost/")
		if name == "" {
			return invalid("%s.localhost_ref is empty", field)
		}
		if !in.AppArmorEnabled {
			return fmt.Errorf("%s: profile %q asked for, but AppArmor is not enabled on this host: %w", field, name, errdefs.ErrFailedPrecondition)
		}
		s.Process.ApparmorProfile = name
	case p.GetProfileType() == runtimeapi.SecurityProfile_Unconfined, privileged, !in.AppArmorEnabled:
	case in.AppArmorDefault != "":
		s.Process.ApparmorProfile = in.AppArmorDefault
	case p != nil:
		// RuntimeDefault asked for, and the default could not be loaded.
		return fmt.Errorf("%s: RuntimeDefault, but the default profile could not be loaded (%s): %w", field, in.AppArmorDefaultErr, errdefs.ErrFailedPrecondition)
	}
	return nil
}

func applySeccomp(s *specs.Spec, sc *runtimeapi.LinuxContainerSecurityContext, localhost []byte, privileged bool) error {
	p := sc.GetSeccomp()
	if privileged || p == nil || p.ProfileType == runtimeapi.SecurityProfile_Unconfined {
		return nil
	}
	var (
		prof *specs.LinuxSeccomp
		err  error
	)
	switch p.ProfileType {
	case runtimeapi.SecurityProfile_RuntimeDefault:
		prof, err = seccomp.GetDefaultProfile(s)
	case runtimeapi.SecurityProfile_Localhost:
		if len(localhost) == 0 {
			return invalid("config.linux.security_context.seccomp.localhost_ref %q: profile is empty", p.LocalhostRef)
		}
		prof, err = seccomp.LoadProfile(string(localhost), s)
	}
	if err != nil {
		return invalid("config.linux.security_context.seccomp: %v", err)
	}
	s.Linux.Seccomp = prof
	return nil
}
