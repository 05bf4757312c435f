package cri

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/specgen"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/image"
	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/logfile"
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// maxProfileSize bounds a Localhost seccomp profile.
const maxProfileSize = 1 << 20

// CreateContainer makes a container in a ready sandbox: a writable layer on
// its image, mounted, its OCI spec, and, as `runc create` does, the
// container itself under its monitor, with an init that waits for
// StartContainer. Every step is undone if a later one fails.
func (s *RuntimeService) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (_ *runtimeapi.CreateContainerResponse, retErr error) {
	cfg := req.GetConfig()
	// Before any lock: a plugin's synchronisation reads the records.
	defer s.nri.Block()()
	sb, err := s.sandboxes.Get(req.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	if sb.State != store.SandboxReady {
		// Not waited for: a sandbox being made is not ready yet (an NRI
		// plugin may be looking at it), and a stopped one never will be.
		return nil, fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	// Decoded once: what CreateContainer reads of it (metadata, log
	// directory, namespaces, security context) never changes.
	sbCfg := sandboxConfig(sb)
	if err := validateContainerConfig(cfg, sbCfg.GetLinux().GetSecurityContext().GetNamespaceOptions(), s.node); err != nil {
		return nil, err
	}
	for i, m := range cfg.GetMounts() {
		if m.GetRecursiveReadOnly() && !s.hasMountSetattr {
			return nil, invalid("config.mounts[%d].recursive_read_only: this kernel lacks mount_setattr(2)", i)
		}
	}
	// The sandbox's lock, then the container's (StopPodSandbox's order):
	// the sandbox cannot be stopped or removed while one of its
	// containers is being made, so no container outlives its sandbox.
	unlockSb := s.sandboxes.Lock(sb.ID)
	defer unlockSb()
	if sb, err = s.sandboxes.Get(sb.ID); err != nil {
		return nil, err
	}
	if sb.State != store.SandboxReady {
		return nil, fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	if lost := lostParts(sb); lost != "" {
		// Never join a namespace whose holder is gone: the kubelet is told,
		// and recreates the pod.
		s.markBroken(ctx, sb, "lost: "+lost)
		return nil, fmt.Errorf("sandbox %s has lost its %s: %w", sb.ID, lost, errdefs.ErrFailedPrecondition)
	}
	logFile, err := logPath(sbCfg.GetLogDirectory(), cfg.GetLogPath())
	if err != nil {
		return nil, err
	}
	raw, err := protojson.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding container config: %w", err)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	name := containerName(cfg.GetMetadata(), sbCfg.GetMetadata())
	if err := s.containers.Reserve(name, id); err != nil {
		return nil, err
	}
	unlock := s.containers.Lock(id)
	defer unlock()
	c := &store.Container{
		ID: id, Name: name, SandboxID: sb.ID, Config: raw, ImageRef: cfg.GetImage().GetImage(),
		State: store.ContainerCreating, CreatedAt: time.Now().UnixNano(),
		Dir:     filepath.Join(s.opts.Config.RunRoot, "containers", id),
		LogPath: logFile,
	}
	if c.LogPath == "" {
		c.LogPath = filepath.Join(c.Dir, "output.log")
	}
	// Durable before any side effect; a crash from here on is rolled back
	// at the next start.
	if err := s.containers.Put(c); err != nil {
		s.containers.Release(name, id)
		return nil, err
	}
	var nriTold bool
	defer func() {
		if retErr == nil {
			return
		}
		if err := s.destroyContainer(context.WithoutCancel(ctx), c); err != nil {
			Logger(ctx).Error("rolling back a failed CreateContainer", "container_id", id, "error", err)
			// Shown, so that the kubelet removes it (and a restart
			// retries): its CreateContainer is over.
			_, _ = s.containers.Update(id, func(r *store.Container) error {
				r.State, r.Reason, r.Message = store.ContainerExited, "CreateError", retErr.Error()
				return nil
			})
			return
		}
		if nriTold {
			// Plugins that saw it see it go.
			s.nriRemoveContainer(context.WithoutCancel(ctx), sb, c)
		}
	}()
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	// In a pod with a user namespace of its own, the image's files are
	// seen through its mappings (container root owns what the image's
	// root owns).
	idmap := storageMappings(idMappings(sbCfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions()))
	rootfs, err := s.opts.Images.CreateRootfs(ctx, id, cfg.GetImage().GetImage(), idmap)
	if err != nil {
		return nil, err
	}
	c.Rootfs, c.ImageID = rootfs.Path, rootfs.Image.ID
	c.ImageRef = imageName(cfg.GetImage(), rootfs.Image)
	imgCfg := rootfs.Image.Config.Config
	c.StopSignal = imgCfg.StopSignal
	if sig := cfg.GetStopSignal(); sig != runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT {
		c.StopSignal = strings.TrimPrefix(sig.String(), "SIGNAL_") // "SIGNAL_SIGTERM" → "SIGTERM"
	}
	if _, ok := parseSignal(c.StopSignal); !ok {
		return nil, invalid("the stop signal %q (the image's STOPSIGNAL or config.stop_signal) is not a signal", c.StopSignal)
	}
	if err := s.containers.Put(c); err != nil {
		return nil, err
	}
	if err := s.mountImageVolumes(ctx, c, cfg.GetMounts(), idmap); err != nil {
		return nil, err
	}

	in, err := s.specInput(c, cfg, sb, sbCfg, imgCfg.User, imgCfg.Volumes)
	if err != nil {
		return nil, err
	}
	if cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetPid() == runtimeapi.NamespaceMode_TARGET {
		// Held only until the container has joined it.
		pin, err := s.pinTargetPIDNamespace(c, sb, cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetTargetId())
		if err != nil {
			return nil, err
		}
		defer network.ReleaseNamespaces(network.Namespaces{PID: pin})
		in.TargetPIDNS = pin
	}
	in.Image = imgCfg
	c.User = &store.ContainerUser{UID: in.User.UID, GID: in.User.GID, Groups: in.User.AdditionalGids}
	spec, err := specgen.Generate(in)
	if err != nil {
		return nil, err
	}
	cdiDevices, _ := specgen.CDIDevices(cfg) // checked by validateContainerConfig
	if err := s.cdi.Inject(spec, cdiDevices); err != nil {
		return nil, err
	}
	if s.nri.Active() {
		nriTold = true
		if err := s.nri.CreateContainer(ctx, nriPod(sb), nriContainer(c, spec), spec, s.nriSpecOptions()); err != nil {
			return nil, fmt.Errorf("an NRI plugin failed CreateContainer: %w", err)
		}
	}
	cgroups.DropUnavailable(spec.Linux.Resources)
	c.SharesPID = sharesPIDNamespace(spec)
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(c.Dir, wire.SpecFile), b, 0o600); err != nil {
		return nil, err
	}
	logRoot := c.Dir
	if logFile != "" {
		// The pod's directory is the kubelet's; below it nothing is
		// followed through a symlink, at create and at each reopen.
		logRoot = sbCfg.GetLogDirectory()
		if err := os.MkdirAll(logRoot, 0o755); err != nil {
			return nil, fmt.Errorf("creating the pod's log directory: %w", err)
		}
		err := logfile.MkdirBeneath(logRoot, filepath.Dir(cfg.GetLogPath()), 0o755)
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EXDEV) {
			return nil, invalid("config.log_path %q: %v", cfg.GetLogPath(), err)
		}
		if err != nil {
			return nil, err
		}
	}
	// The next create's monitor is made ready once this one is answered.
	defer s.opts.Monitors.Refill()
	if logFile != "" {
		// A log file that this call made goes with the container it
		// failed to make; the kubelet's own (a restart's) stays.
		if _, err := os.Lstat(logFile); errors.Is(err, fs.ErrNotExist) {
			defer func() {
				if retErr != nil {
					_ = os.Remove(logFile)
				}
			}()
		}
	}
	if err := s.createInit(c, cfg, logRoot); err != nil {
		return nil, err
	}
	c.State = store.ContainerCreated
	if err := s.containers.Put(c); err != nil {
		return nil, err
	}
	// The cgroup is made: its paths, which stats read, are learned now
	// and never change (a restarted daemon learns them on first use).
	_, _ = s.cgroupPaths(id)
	s.emit(id, sb.ID, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
	if nriTold {
		s.nri.PostCreateContainer(ctx, nriPod(sb), nriContainer(c, spec))
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

// maxImageMounts bounds the image volumes of one container.
const maxImageMounts = 32

// validateImageMounts checks the CRI mounts that name an image (image
// volumes): read-only, no host path, a relative sub path that stays inside.
func validateImageMounts(mounts []*runtimeapi.Mount) error {
	n := 0
	for i, m := range mounts {
		if m.GetImage() == nil {
			if m.GetImageSubPath() != "" {
				return invalid("config.mounts[%d].image_sub_path is set without an image", i)
			}
			continue
		}
		n++
		switch sub := m.GetImageSubPath(); {
		case m.GetImage().GetImage() == "":
			return invalid("config.mounts[%d].image.image is required", i)
		case m.GetHostPath() != "":
			return invalid("config.mounts[%d]: host_path and image are exclusive", i)
		case !m.GetReadonly():
			return invalid("config.mounts[%d]: an image volume must be read-only", i)
		case m.GetPropagation() != runtimeapi.MountPropagation_PROPAGATION_PRIVATE:
			return invalid("config.mounts[%d]: an image volume's propagation must be private", i)
		case sub != "" && (filepath.IsAbs(sub) || filepath.Clean(sub) != sub || sub == ".." || strings.HasPrefix(sub, "../")):
			return invalid("config.mounts[%d].image_sub_path %q must be a clean relative path inside the image", i, sub)
		}
	}
	if n > maxImageMounts {
		return invalid("config.mounts: %d image volumes, at most %d", n, maxImageMounts)
	}
	return nil
}

// mountImageVolumes gives each image mount a read-only-bound layer of its
// image, recorded in c before it is made so that a rollback or a restart
// finds it.
func (s *RuntimeService) mountImageVolumes(ctx context.Context, c *store.Container, mounts []*runtimeapi.Mount, idmap *image.IDMappings) error {
	for i, m := range mounts {
		if m.GetImage() == nil {
			continue
		}
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s/image-volume/%d", c.ID, i)))
		vol := store.ImageVolume{Mount: i, Layer: hex.EncodeToString(sum[:])}
		c.ImageVolumes = append(c.ImageVolumes, vol)
		if err := s.containers.Put(c); err != nil {
			return err
		}
		rootfs, err := s.opts.Images.CreateRootfs(ctx, vol.Layer, m.GetImage().GetImage(), idmap)
		if err != nil {
			return fmt.Errorf("config.mounts[%d].image: %w", i, err)
		}
		vol.ImageID, vol.Path = rootfs.Image.ID, rootfs.Path
		if sub := m.GetImageSubPath(); sub != "" {
			p, err := securejoin.SecureJoin(rootfs.Path, sub)
			if err != nil {
				return invalid("config.mounts[%d].image_sub_path %q: %v", i, sub, err)
			}
			if _, err := os.Stat(p); err != nil {
				return invalid("config.mounts[%d].image_sub_path %q does not exist in image %s", i, sub, m.GetImage().GetImage())
			}
			vol.Path = p
		}
		c.ImageVolumes[len(c.ImageVolumes)-1] = vol
		if err := s.containers.Put(c); err != nil {
			return err
		}
	}
	return nil
}

// specInput gathers the host facts specgen needs: the image's accounts,
// devices, a Localhost seccomp profile, image volume directories.
func (s *RuntimeService) specInput(c *store.Container, cfg *runtimeapi.ContainerConfig, sb *store.Sandbox, sbCfg *runtimeapi.PodSandboxConfig, imageUser string, volumes map[string]struct{}) (specgen.Input, error) {
	sc := cfg.GetLinux().GetSecurityContext()
	passwd, err := readImageFile(c.Rootfs, "/etc/passwd", maxAccountFile)
	if err != nil {
		return specgen.Input{}, err
	}
	group, err := readImageFile(c.Rootfs, "/etc/group", maxAccountFile)
	if err != nil {
		return specgen.Input{}, err
	}
	user, err := specgen.ResolveUser(specgen.UserRequest{
		Security: sc, ImageUser: imageUser, Passwd: passwd, Group: group,
		PodSupplemental: sbCfg.GetLinux().GetSecurityContext().GetSupplementalGroups(),
	})
	if err != nil {
		return specgen.Input{}, err
	}
	if p := sc.GetApparmor(); p.GetProfileType() == runtimeapi.SecurityProfile_Localhost && s.opts.AppArmor.Enabled {
		name := strings.TrimPrefix(p.GetLocalhostRef(), "localhost/")
		if ok, err := s.opts.AppArmor.Host.Loaded(name); err != nil || !ok {
			return specgen.Input{}, fmt.Errorf("config.linux.security_context.apparmor: profile %q is not loaded (%v): %w", name, err, errdefs.ErrFailedPrecondition)
		}
	}
	in := specgen.Input{
		AppArmorEnabled: s.opts.AppArmor.Enabled, AppArmorDefault: s.opts.AppArmor.Default, AppArmorDefaultErr: s.opts.AppArmor.DefaultErr,
		SELinuxEnabled:   s.selinuxEnabled,
		OOMScoreAdjFloor: s.oomScoreAdjFloor,
		HostCapabilities: hostCapabilities(),
		ID:               c.ID, Config: cfg, SandboxConfig: sbCfg, Rootfs: c.Rootfs, User: user,
		CgroupDriver: s.opts.CgroupDriver, CgroupV2: cgroups.IsV2(), Devices: map[string]specgen.Device{},
		ImageMounts: map[int]string{},
		Sandbox: specgen.Sandbox{
			ID: sb.ID, Hostname: sb.Hostname, NetNS: sb.NetNS, IPCNS: sb.IPCNS, UTSNS: sb.UTSNS,
			PIDMode: sb.PIDMode, PIDNS: sb.PIDNS, CgroupParent: sb.CgroupParent, UserNS: sb.UserNS,
			IDMappings: specMappings(idMappings(sbCfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions())),
			HostsPath:  sb.HostsPath, ResolvPath: sb.ResolvPath, HostnamePath: sb.HostnamePath, ShmPath: sb.ShmPath,
		},
	}
	for _, v := range c.ImageVolumes {
		in.ImageMounts[v.Mount] = v.Path
	}
	paths := make([]string, 0, len(cfg.GetDevices()))
	for _, d := range cfg.GetDevices() {
		paths = append(paths, d.HostPath)
	}
	if sc.GetPrivileged() {
		paths = append(paths, hostDevices()...)
	}
	for _, p := range paths {
		if d, ok := deviceAt(p); ok {
			in.Devices[p] = d
		}
	}
	if p := sc.GetSeccomp(); p.GetProfileType() == runtimeapi.SecurityProfile_Localhost {
		ref := p.GetLocalhostRef()
		if !filepath.IsAbs(ref) || filepath.Clean(ref) != ref {
			return specgen.Input{}, invalid("config.linux.security_context.seccomp.localhost_ref %q must be a clean absolute path", ref)
		}
		f, err := os.Open(ref)
		if err != nil {
			return specgen.Input{}, invalid("config.linux.security_context.seccomp.localhost_ref: %v", err)
		}
		in.SeccompLocalhost, err = io.ReadAll(io.LimitReader(f, maxProfileSize+1))
		f.Close()
		if err != nil || len(in.SeccompLocalhost) > maxProfileSize {
			return specgen.Input{}, invalid("config.linux.security_context.seccomp.localhost_ref %q: unreadable or larger than 1 MiB", ref)
		}
	}
	if err := makeImageVolumes(c.Rootfs, volumes, in); err != nil {
		return specgen.Input{}, err
	}
	return in, nil
}

// pinTargetPIDNamespace pins the PID namespace of the running container
// targetID, of the same pod, in c's run directory, for a container that
// joins it (kubectl debug --target). The pin is taken from the target's
// init and then checked against its start time, so that a pid reused
// meanwhile is never joined.
func (s *RuntimeService) pinTargetPIDNamespace(c *store.Container, sb *store.Sandbox, targetID string) (string, error) {
	const field = "config.linux.security_context.namespace_options.target_id"
	if targetID == "" {
		return "", invalid("%s is required with the TARGET PID mode", field)
	}
	t, err := s.containers.Get(targetID)
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", fmt.Errorf("%s %q: no such container: %w", field, targetID, errdefs.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	if t.SandboxID != sb.ID {
		return "", invalid("%s %q: the container is in another pod", field, targetID)
	}
	if t.State != store.ContainerRunning || !alive(t.Pid, t.PidStart) {
		return "", fmt.Errorf("%s %q: the container is not running: %w", field, targetID, errdefs.ErrFailedPrecondition)
	}
	pin := targetPIDPin(c)
	if err := network.PinPIDNamespace(t.Pid, pin); err != nil {
		return "", err
	}
	if !alive(t.Pid, t.PidStart) {
		_ = network.ReleaseNamespaces(network.Namespaces{PID: pin})
		return "", fmt.Errorf("%s %q: the container exited: %w", field, targetID, errdefs.ErrFailedPrecondition)
	}
	return pin, nil
}

// targetPIDPin is where a TARGET container's target PID namespace is
// pinned while the container is made.
func targetPIDPin(c *store.Container) string { return filepath.Join(c.Dir, "target-pid-ns") }

// sharesPIDNamespace tells whether spec joins an existing PID namespace
// (or keeps the host's) rather than making one of its own.
func sharesPIDNamespace(spec *specs.Spec) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return ns.Path != ""
		}
	}
	return true
}

// maxImageVolumes bounds the VOLUMEs an image may declare.
const maxImageVolumes = 128

// makeImageVolumes keeps the image's VOLUMEs in the container's writable
// layer, as CRI-O's default ("mkdir") does: a path the image has keeps its
// content, owner and mode; a missing one is made, inside the rootfs. So a
// volume is never a host directory that other host users could reach, and
// never hides what the image ships. A VOLUME under /proc, /sys or /dev, or
// at a file cria or the CRI config mounts, is ignored: a runtime mount is
// never replaced by image metadata. More than maxImageVolumes is refused.
func makeImageVolumes(rootfs string, volumes map[string]struct{}, in specgen.Input) error {
	if len(volumes) > maxImageVolumes {
		return invalid("the image declares %d volumes, more than the %d cria accepts", len(volumes), maxImageVolumes)
	}
	mounted := map[string]bool{"/etc/hosts": true, "/etc/resolv.conf": true, "/etc/hostname": true}
	for _, m := range in.Config.GetMounts() {
		mounted[path.Clean(m.GetContainerPath())] = true
	}
	for v := range volumes {
		dst := path.Clean("/" + v)
		if !imageVolumeAllowed(dst) || mounted[dst] {
			continue
		}
		if err := pathrs.MkdirAll(rootfs, dst, 0o755); err != nil {
			return invalid("the image's VOLUME %q: %v", v, err)
		}
	}
	return nil
}

// imageVolumeAllowed tells whether an image may declare a VOLUME at the
// clean absolute path dst: not the root, nor under the kernel's and the
// runtime's own filesystems.
func imageVolumeAllowed(dst string) bool {
	for _, p := range []string{"/proc", "/sys", "/dev"} {
		if dst == p || strings.HasPrefix(dst, p+"/") {
			return false
		}
	}
	return dst != "/"
}

// hostCapabilities returns the capabilities this daemon holds (its
// effective set), or nil if they cannot be read.
func hostCapabilities() []string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil
			}
			return specgen.CapabilitiesFromMask(mask)
		}
	}
	return nil
}

// maxAccountFile bounds the /etc/passwd and /etc/group read from an image.
const maxAccountFile = 4 << 20

// readImageFile reads the regular file name of the container's root
// filesystem rootfs, at most limit bytes. The path is resolved inside
// rootfs as if it were / (its symlinks included), so nothing outside it is
// reached, and the file is first opened O_PATH and checked, so that a FIFO
// or a device node in the image is never opened (it could block, or have
// side effects). A missing file reads as empty. Anything but a regular file,
// or one larger than limit, is refused with InvalidArgument.
func readImageFile(rootfs, name string, limit int64) ([]byte, error) {
	fd, err := openInRoot(rootfs, name)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, invalid("the image's %s: %v", name, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("the image's %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, invalid("the image's %s is not a regular file (mode %#o)", name, st.Mode)
	}
	if st.Size > limit {
		return nil, invalid("the image's %s is %d bytes, more than the %d cria reads", name, st.Size, limit)
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("the image's %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the image's %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, invalid("the image's %s is more than the %d bytes cria reads", name, limit)
	}
	return b, nil
}

// openInRoot opens name under rootfs with O_PATH, resolving it as if
// rootfs were the root (openat2 RESOLVE_IN_ROOT; on kernels without
// openat2, securejoin and a final O_NOFOLLOW).
func openInRoot(rootfs, name string) (int, error) {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, strings.TrimPrefix(name, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if !errors.Is(err, unix.ENOSYS) {
		return fd, err
	}
	full, err := securejoin.SecureJoin(rootfs, name)
	if err != nil {
		return -1, err
	}
	return unix.Open(full, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// deviceAt describes the device node at p.
func deviceAt(p string) (specgen.Device, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return specgen.Device{}, false
	}
	var typ string
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFCHR:
		typ = "c"
	case syscall.S_IFBLK:
		typ = "b"
	default:
		return specgen.Device{}, false
	}
	return specgen.Device{
		Type: typ, Major: int64(st.Rdev >> 8 & 0xfff), Minor: int64(st.Rdev&0xff | st.Rdev>>12&0xfff00),
		FileMode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid,
	}, true
}

// hostDevices lists the host's device nodes for a privileged container.
func hostDevices() []string {
	var out []string
	_ = filepath.WalkDir("/dev", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (p == "/dev/pts" || p == "/dev/shm" || p == "/dev/mqueue") {
			return filepath.SkipDir
		}
		if d.Type()&os.ModeDevice != 0 && !strings.HasPrefix(p, "/dev/console") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// imageName is the image a container reports that it runs, which the
// kubelet shows as the container's image in the pod's status: the name the
// user gave (the pod spec's image, which the kubelet sends beside the id
// it resolved), else the config's reference, or for a bare image id the
// image's first tag, as containerd does.
func imageName(spec *runtimeapi.ImageSpec, img *image.Image) string {
	if u := spec.GetUserSpecifiedImage(); u != "" {
		return u
	}
	ref := spec.GetImage()
	if (ref == img.ID || "sha256:"+ref == img.ID) && len(img.RepoTags) > 0 {
		return img.RepoTags[0]
	}
	return ref
}
