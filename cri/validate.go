package cri

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/specgen"
	"github.com/cria-runtime/cria/image"
)

// This file is the first thing RunPodSandbox, CreateContainer,
// UpdateContainerResources and the exec calls do: checks of the request
// alone, with no side effect, so that nothing malformed is ever made and
// each refusal names the field. What needs the node's state (a sandbox,
// an image, a file) is checked where it is read.

// Bounds on what one request may carry. gRPC refuses messages over 16 MiB
// (cmd/cria); these keep one that fits from costing more once accepted.
const (
	maxNameLen = 253
	// Labels and annotations, each: Kubernetes caps an object's
	// annotations at 256 KiB; the kubelet adds a few of its own.
	maxKeyValues     = 4096
	maxKeyValueBytes = 512 << 10
	// A program's arguments and environment: the kernel refuses a string
	// longer than MAX_ARG_STRLEN (32 pages) and, with the usual 8 MiB
	// stack, more than 2 MiB in all (strings and their pointers).
	maxArgLen   = 32*4096 - 1
	maxExecSize = 2 << 20
	maxMounts   = 1024
	maxDevices  = 1024
	maxPaths    = 1024 // masked and read-only paths, each
	// NGROUPS_MAX.
	maxGroups = 65536
	maxUID    = 1<<32 - 2 // (uid_t)-1 means "no change" to the kernel
	// cgroup limits (kernel/sched: shares 2..262144, CFS period 1 ms..1 s).
	maxCPUShares    = 262144
	minCFSPeriod    = 1000
	maxCFSPeriod    = 1000000
	minCFSQuota     = 1000
	minMemoryLimit  = 6 << 20 // Docker's floor; CRI-O's is 12 MiB
	maxUnifiedKeys  = 64
	maxUnifiedValue = 4096
)

// node is what the checks need to know of the machine.
type node struct {
	cpus, mems int // how many CPUs and memory nodes may exist
	cgroupV2   bool
}

// probeNode reads the possible CPUs and memory nodes from sysfs.
func probeNode(cgroupV2 bool) node {
	n := node{cpus: 1, mems: 1, cgroupV2: cgroupV2}
	if b, err := os.ReadFile("/sys/devices/system/cpu/possible"); err == nil {
		if max, err := listMax(strings.TrimSpace(string(b))); err == nil {
			n.cpus = max + 1
		}
	}
	if b, err := os.ReadFile("/sys/devices/system/node/possible"); err == nil {
		if max, err := listMax(strings.TrimSpace(string(b))); err == nil {
			n.mems = max + 1
		}
	}
	return n
}

// checkName checks a name, namespace or uid that cria keys records by and
// prints in paths and logs.
func checkName(field, v string) error {
	switch {
	case v == "":
		return invalid("%s is required", field)
	case len(v) > maxNameLen:
		return invalid("%s is %d bytes, at most %d", field, len(v), maxNameLen)
	case v == "." || v == "..":
		return invalid("%s %q is not a name", field, v)
	case strings.ContainsRune(v, '/'):
		return invalid("%s %q must not contain '/'", field, v)
	case hasControl(v):
		return invalid("%s %q must not contain control characters", field, v)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// checkText refuses a NUL, which no path, argument or value can carry
// into the kernel.
func checkText(field, v string) error {
	if strings.IndexByte(v, 0) >= 0 {
		return invalid("%s %q contains a NUL byte", field, v)
	}
	return nil
}

// checkPath checks a path that must be absolute and clean (no "..", no
// doubled or trailing '/').
func checkPath(field, p string) error {
	if err := checkText(field, p); err != nil {
		return err
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return invalid("%s %q must be a clean absolute path", field, p)
	}
	return nil
}

func checkKeyValues(field string, m map[string]string) error {
	if len(m) > maxKeyValues {
		return invalid("%s has %d entries, at most %d", field, len(m), maxKeyValues)
	}
	size := 0
	for k, v := range m {
		size += len(k) + len(v)
		if k == "" || hasControl(k) {
			return invalid("%s: key %q must be non-empty, without control characters", field, k)
		}
		if err := checkText(field+"["+k+"]", v); err != nil {
			return err
		}
	}
	if size > maxKeyValueBytes {
		return invalid("%s holds %d bytes, at most %d", field, size, maxKeyValueBytes)
	}
	return nil
}

// checkID checks a user or group id.
func checkID(field string, v int64) error {
	if v < 0 || v > maxUID {
		return invalid("%s %d is not a user or group id (0 to %d)", field, v, int64(maxUID))
	}
	return nil
}

func checkGroups(field string, gs []int64) error {
	if len(gs) > maxGroups {
		return invalid("%s has %d groups, at most %d", field, len(gs), maxGroups)
	}
	for i, g := range gs {
		if err := checkID(fmt.Sprintf("%s[%d]", field, i), g); err != nil {
			return err
		}
	}
	return nil
}

// checkIdentity checks run_as_user, run_as_username and run_as_group.
func checkIdentity(field string, user *runtimeapi.Int64Value, username string, group *runtimeapi.Int64Value) error {
	if user != nil {
		if err := checkID(field+".run_as_user", user.Value); err != nil {
			return err
		}
		if username != "" {
			return invalid("%s: run_as_user and run_as_username are exclusive", field)
		}
	}
	if group != nil {
		if err := checkID(field+".run_as_group", group.Value); err != nil {
			return err
		}
		if user == nil && username == "" {
			return invalid("%s.run_as_group is set without run_as_user or run_as_username", field)
		}
	}
	if username != "" && (strings.ContainsAny(username, ":/") || hasControl(username) || len(username) > 256) {
		return invalid("%s.run_as_username %q is not a user name", field, username)
	}
	return nil
}

// checkProfile checks a seccomp or AppArmor profile reference: a known
// type, and for a localhost profile a clean absolute path to a regular
// file (AppArmor's names a loaded profile, not a file).
func checkProfile(field string, p *runtimeapi.SecurityProfile, file bool) error {
	switch p.GetProfileType() {
	case runtimeapi.SecurityProfile_RuntimeDefault, runtimeapi.SecurityProfile_Unconfined:
		return nil
	case runtimeapi.SecurityProfile_Localhost:
	default:
		return invalid("%s.profile_type %d is unknown", field, p.GetProfileType())
	}
	ref := p.GetLocalhostRef()
	if !file {
		if ref == "" || hasControl(ref) || len(ref) > 4096 {
			return invalid("%s.localhost_ref %q is not a profile name", field, ref)
		}
		return nil
	}
	if err := checkPath(field+".localhost_ref", ref); err != nil {
		return err
	}
	st, err := os.Stat(ref)
	if err != nil {
		return invalid("%s.localhost_ref: %v", field, err)
	}
	if !st.Mode().IsRegular() {
		return invalid("%s.localhost_ref %q is not a regular file", field, ref)
	}
	return nil
}

// checkExec checks a program's command line and environment against what
// execve(2) accepts.
func checkExec(field string, argv []string, env []*runtimeapi.KeyValue) error {
	size := 0
	for i, a := range argv {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f, a); err != nil {
			return err
		}
		if len(a) > maxArgLen {
			return invalid("%s is %d bytes, more than the kernel passes (%d)", f, len(a), maxArgLen)
		}
		size += len(a) + 1 + 8
	}
	for i, kv := range env {
		f := fmt.Sprintf("config.envs[%d]", i)
		if kv.GetKey() == "" || strings.ContainsAny(kv.GetKey(), "=\x00") {
			return invalid("%s: %q is not a variable name", f, kv.GetKey())
		}
		if err := checkText(f+".value", string(kv.GetValue())); err != nil {
			return err
		}
		n := len(kv.GetKey()) + 1 + len(kv.GetValue())
		if n > maxArgLen {
			return invalid("%s is %d bytes, more than the kernel passes (%d)", f, n, maxArgLen)
		}
		size += n + 1 + 8
	}
	if size > maxExecSize {
		return invalid("%s and the environment need %d bytes, more than the kernel passes to a program (%d)", field, size, maxExecSize)
	}
	return nil
}

// checkResources checks a container's resources against the kernel's
// ranges, as CreateContainer and UpdateContainerResources take them.
func checkResources(field string, r *runtimeapi.LinuxContainerResources, n node) error {
	if r == nil {
		return nil
	}
	switch {
	case r.CpuQuota > 0 && r.CpuQuota < minCFSQuota:
		return invalid("%s.cpu_quota %d is below the kernel's %d µs", field, r.CpuQuota, minCFSQuota)
	case r.MemoryLimitInBytes > 0 && r.MemoryLimitInBytes < minMemoryLimit:
		return invalid("%s.memory_limit_in_bytes %d is below %d, too little for a container to start", field, r.MemoryLimitInBytes, minMemoryLimit)
	}
	return checkPodResources(field, r, n)
}

// checkPodResources checks a pod's overhead or resources, which are sums
// and additions rather than one cgroup's limits: the ranges, without the
// floors of a container's limits.
func checkPodResources(field string, r *runtimeapi.LinuxContainerResources, n node) error {
	if r == nil {
		return nil
	}
	switch {
	case r.CpuShares < 0 || r.CpuShares > maxCPUShares:
		return invalid("%s.cpu_shares %d is out of range (0 for unset, or 2 to %d)", field, r.CpuShares, maxCPUShares)
	case r.CpuPeriod != 0 && (r.CpuPeriod < minCFSPeriod || r.CpuPeriod > maxCFSPeriod):
		return invalid("%s.cpu_period %d is out of range (0 for unset, or %d to %d µs)", field, r.CpuPeriod, minCFSPeriod, maxCFSPeriod)
	case r.CpuQuota < -1:
		return invalid("%s.cpu_quota %d is out of range (0 for unset, -1 for none)", field, r.CpuQuota)
	case r.MemoryLimitInBytes < 0:
		return invalid("%s.memory_limit_in_bytes %d is negative", field, r.MemoryLimitInBytes)
	case r.MemorySwapLimitInBytes < -1:
		return invalid("%s.memory_swap_limit_in_bytes %d is out of range (0 for unset, -1 for unlimited)", field, r.MemorySwapLimitInBytes)
	case r.MemorySwapLimitInBytes > 0 && r.MemoryLimitInBytes > 0 && r.MemorySwapLimitInBytes < r.MemoryLimitInBytes:
		return invalid("%s.memory_swap_limit_in_bytes %d is below memory_limit_in_bytes %d (it counts memory and swap together)", field, r.MemorySwapLimitInBytes, r.MemoryLimitInBytes)
	case r.OomScoreAdj < -1000 || r.OomScoreAdj > 1000:
		return invalid("%s.oom_score_adj %d is out of range (-1000 to 1000)", field, r.OomScoreAdj)
	}
	if err := checkCPUList(field+".cpuset_cpus", r.CpusetCpus, n.cpus, "CPUs"); err != nil {
		return err
	}
	if err := checkCPUList(field+".cpuset_mems", r.CpusetMems, n.mems, "memory nodes"); err != nil {
		return err
	}
	for i, h := range r.HugepageLimits {
		if !validPageSize(h.GetPageSize()) {
			return invalid("%s.hugepage_limits[%d].page_size %q is not a page size such as \"2MB\" or \"1GB\"", field, i, h.GetPageSize())
		}
	}
	return checkUnified(field+".unified", r.Unified, n.cgroupV2)
}

// checkCPUList checks a cpuset list ("0-3,8"): ascending ranges of
// numbers below limit.
func checkCPUList(field, list string, limit int, what string) error {
	if list == "" {
		return nil
	}
	max, err := listMax(list)
	if err != nil {
		return invalid("%s %q: %v", field, list, err)
	}
	if max >= limit {
		return invalid("%s %q names %s up to %d; this node has %d", field, list, what, max, limit)
	}
	return nil
}

// listMax parses a cpuset list and returns its largest number.
func listMax(list string) (int, error) {
	parts := strings.Split(list, ",")
	if len(parts) > 4096 {
		return 0, fmt.Errorf("%d items, at most 4096", len(parts))
	}
	max := -1
	for _, part := range parts {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := listNumber(lo)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = listNumber(hi); err != nil {
				return 0, err
			}
			if b < a {
				return 0, fmt.Errorf("range %q runs backwards", part)
			}
		}
		max = b
	}
	return max, nil
}

func listNumber(s string) (int, error) {
	if s == "" || len(s) > 6 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return strconv.Atoi(s)
}

var pageSizeRE = regexp.MustCompile(`^([1-9][0-9]{0,5})(KB|MB|GB|TB)$`)

// validPageSize accepts the kubelet's hugepage size names: a power of
// two with a unit.
func validPageSize(s string) bool {
	m := pageSizeRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	v, _ := strconv.Atoi(m[1])
	return bits.OnesCount(uint(v)) == 1
}

var unifiedKeyRE = regexp.MustCompile(`^(cpu|cpuset|io|memory|pids|hugetlb|rdma|misc)\.[a-z0-9_.]+$`)

// checkUnified checks cgroup v2 settings: files of a controller's, plain
// values; a node on cgroup v1 cannot apply any.
func checkUnified(field string, u map[string]string, v2 bool) error {
	if len(u) > maxUnifiedKeys {
		return invalid("%s has %d entries, at most %d", field, len(u), maxUnifiedKeys)
	}
	for k, v := range u {
		if !unifiedKeyRE.MatchString(k) || strings.Contains(k, "..") {
			return invalid("%s: %q is not a controller's file (cpu.*, memory.*, io.*, pids.*, …)", field, k)
		}
		if len(v) > maxUnifiedValue || strings.ContainsAny(v, "\n\x00") {
			return invalid("%s[%s]: the value must be one line of at most %d bytes", field, k, maxUnifiedValue)
		}
		if k == "pids.max" && v != "max" {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
				return invalid("%s[pids.max] %q must be \"max\" or a positive number", field, v)
			}
		}
	}
	if len(u) > 0 && !v2 {
		return fmt.Errorf("%s: this node's cgroups are v1, which has no unified settings: %w", field, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// checkNamespaceMode checks one namespace option against the modes the
// field allows.
func checkNamespaceMode(field string, m runtimeapi.NamespaceMode, allowed ...runtimeapi.NamespaceMode) error {
	for _, a := range allowed {
		if m == a {
			return nil
		}
	}
	return invalid("%s %v is not allowed here", field, m)
}

// checkUserns checks user namespace options: the host's (NODE, no
// mappings; or no options at all), or the pod's own (POD) with one UID and
// one GID mapping, each mapping container ID 0, as the kubelet sends.
func checkUserns(field string, u *runtimeapi.UserNamespace) error {
	if u == nil {
		return nil
	}
	switch u.GetMode() {
	case runtimeapi.NamespaceMode_NODE:
		if len(u.GetUids()) > 0 || len(u.GetGids()) > 0 {
			return invalid("%s: the host's user namespace (NODE) takes no mappings", field)
		}
		return nil
	case runtimeapi.NamespaceMode_POD:
		for _, m := range []struct {
			name string
			list []*runtimeapi.IDMapping
		}{{"uids", u.GetUids()}, {"gids", u.GetGids()}} {
			if len(m.list) != 1 {
				return invalid("%s.%s: a pod's user namespace takes exactly one mapping, not %d", field, m.name, len(m.list))
			}
			if err := checkIDMapList(field+"."+m.name, m.list); err != nil {
				return err
			}
			if m.list[0].GetContainerId() != 0 {
				return invalid("%s.%s[0]: container ID 0 (root) must be mapped; the mapping starts at %d", field, m.name, m.list[0].GetContainerId())
			}
		}
		return nil
	default:
		return invalid("%s.mode %v is not allowed (NODE or POD)", field, u.GetMode())
	}
}

// maxIDMappings is the kernel's limit on the lines of a uid_map.
const maxIDMappings = 340

// checkIDMapList checks ID mappings: each of non-zero length, none running
// past the last ID, none overlapping another on either side, none mapping
// onto the host's root (which would undo what the namespace is for).
func checkIDMapList(field string, list []*runtimeapi.IDMapping) error {
	if len(list) > maxIDMappings {
		return invalid("%s has %d mappings, at most %d", field, len(list), maxIDMappings)
	}
	const ids = 1 << 32
	for i, m := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if m.GetLength() == 0 {
			return invalid("%s.length is 0", f)
		}
		if uint64(m.GetContainerId())+uint64(m.GetLength()) > ids || uint64(m.GetHostId())+uint64(m.GetLength()) > ids {
			return invalid("%s: container_id %d / host_id %d + length %d runs past the last ID", f, m.GetContainerId(), m.GetHostId(), m.GetLength())
		}
		if m.GetHostId() == 0 {
			return invalid("%s: maps onto the host's root (host_id 0)", f)
		}
		for j, o := range list[:i] {
			if overlaps(m.GetContainerId(), o.GetContainerId(), m.GetLength(), o.GetLength()) || overlaps(m.GetHostId(), o.GetHostId(), m.GetLength(), o.GetLength()) {
				return invalid("%s overlaps %s[%d]", f, field, j)
			}
		}
	}
	return nil
}

func overlaps(a, b, lenA, lenB uint32) bool {
	return uint64(a) < uint64(b)+uint64(lenB) && uint64(b) < uint64(a)+uint64(lenA)
}

// checkUsernsMatch refuses a container whose user namespace options differ
// from its pod's: the pod has one user namespace, its containers share it.
// Options left out mean the pod's.
func checkUsernsMatch(field string, ctr, pod *runtimeapi.UserNamespace) error {
	if ctr == nil {
		return nil
	}
	mode := func(u *runtimeapi.UserNamespace) runtimeapi.NamespaceMode {
		if u == nil {
			return runtimeapi.NamespaceMode_NODE
		}
		return u.GetMode()
	}
	same := func(a, b []*runtimeapi.IDMapping) bool {
		return slices.EqualFunc(a, b, func(x, y *runtimeapi.IDMapping) bool {
			return x.GetContainerId() == y.GetContainerId() && x.GetHostId() == y.GetHostId() && x.GetLength() == y.GetLength()
		})
	}
	if mode(ctr) != mode(pod) || !same(ctr.GetUids(), pod.GetUids()) || !same(ctr.GetGids(), pod.GetGids()) {
		return invalid("%s differs from the pod's (config.linux.security_context.namespace_options.userns_options of the sandbox): a pod's containers share its user namespace", field)
	}
	return nil
}

// validateContainerConfig checks a CreateContainer request's config
// without side effects; sandboxNS is the pod's namespace options.
func validateContainerConfig(cfg *runtimeapi.ContainerConfig, sandboxNS *runtimeapi.NamespaceOption, n node) error {
	if cfg == nil {
		return invalid("config is required")
	}
	if cfg.GetMetadata() == nil {
		return invalid("config.metadata is required")
	}
	if err := checkName("config.metadata.name", cfg.GetMetadata().GetName()); err != nil {
		return err
	}
	if err := checkImageRef("config.image.image", cfg.GetImage().GetImage()); err != nil {
		return err
	}
	if p := cfg.GetLogPath(); p != "" {
		if err := checkText("config.log_path", p); err != nil {
			return err
		}
		if filepath.IsAbs(p) || p == "." || filepath.Clean(p) == ".." || strings.HasPrefix(filepath.Clean(p), "../") {
			return invalid("config.log_path %q must be a file inside the pod's log directory", p)
		}
	}
	if err := checkExec("config.command", append(append([]string(nil), cfg.GetCommand()...), cfg.GetArgs()...), cfg.GetEnvs()); err != nil {
		return err
	}
	if wd := cfg.GetWorkingDir(); wd != "" {
		if err := checkText("config.working_dir", wd); err != nil {
			return err
		}
		if !filepath.IsAbs(wd) {
			return invalid("config.working_dir %q is not absolute", wd)
		}
	}
	if err := checkKeyValues("config.labels", cfg.GetLabels()); err != nil {
		return err
	}
	if err := checkKeyValues("config.annotations", cfg.GetAnnotations()); err != nil {
		return err
	}
	if _, ok := runtimeapi.Signal_name[int32(cfg.GetStopSignal())]; !ok {
		return invalid("config.stop_signal %d is unknown", cfg.GetStopSignal())
	}
	if err := checkMounts(cfg.GetMounts(), ownUserns(sandboxNS.GetUsernsOptions())); err != nil {
		return err
	}
	if err := checkDevices(cfg.GetDevices(), cfg.GetCDIDevices()); err != nil {
		return err
	}
	if _, err := specgen.CDIDevices(cfg); err != nil {
		return err
	}
	if err := checkResources("config.linux.resources", cfg.GetLinux().GetResources(), n); err != nil {
		return err
	}
	return checkSecurityContext(cfg.GetLinux().GetSecurityContext(), sandboxNS)
}

// checkImageRef accepts what names an image: a reference (normalised as
// the kubelet's are), or an image id.
func checkImageRef(field, ref string) error {
	if ref == "" {
		return invalid("%s is required", field)
	}
	if err := image.CheckReference(ref); err != nil {
		return invalid("%s: %v", field, err)
	}
	return nil
}

// checkMounts checks a container's mounts; idmapped ones (uid_mappings,
// gid_mappings) only in a pod with a user namespace of its own.
func checkMounts(mounts []*runtimeapi.Mount, podUserns bool) error {
	if len(mounts) > maxMounts {
		return invalid("config.mounts has %d entries, at most %d", len(mounts), maxMounts)
	}
	seen := make(map[string]int, len(mounts))
	for i, m := range mounts {
		field := fmt.Sprintf("config.mounts[%d]", i)
		dst := m.GetContainerPath()
		if err := checkText(field+".container_path", dst); err != nil {
			return err
		}
		if !filepath.IsAbs(dst) || slices.Contains(strings.Split(dst, "/"), "..") {
			return invalid("%s.container_path %q must be absolute, without '..'", field, dst)
		}
		dst = filepath.Clean(dst)
		if dst == "/" {
			return invalid("%s.container_path: nothing may be mounted over the container's root", field)
		}
		if j, dup := seen[dst]; dup {
			return invalid("%s.container_path %q is config.mounts[%d]'s too", field, dst, j)
		}
		seen[dst] = i
		if m.GetImage() == nil {
			if err := checkText(field+".host_path", m.GetHostPath()); err != nil {
				return err
			}
			if !filepath.IsAbs(m.GetHostPath()) {
				return invalid("%s.host_path %q is not absolute", field, m.GetHostPath())
			}
		}
		if _, ok := runtimeapi.MountPropagation_name[int32(m.GetPropagation())]; !ok {
			return invalid("%s.propagation %d is unknown", field, m.GetPropagation())
		}
		if err := checkIDMappings(field, m.GetUidMappings(), m.GetGidMappings(), podUserns); err != nil {
			return err
		}
	}
	return validateImageMounts(mounts)
}

// checkIDMappings checks an idmapped mount's mappings: both or neither,
// and only in a pod with a user namespace of its own.
func checkIDMappings(field string, uids, gids []*runtimeapi.IDMapping, podUserns bool) error {
	if len(uids) == 0 && len(gids) == 0 {
		return nil
	}
	if !podUserns {
		return invalid("%s.uid_mappings, gid_mappings: an idmapped mount needs a pod with a user namespace of its own (userns_options mode POD)", field)
	}
	if len(uids) == 0 || len(gids) == 0 {
		return invalid("%s: an idmapped mount needs both uid_mappings and gid_mappings", field)
	}
	if err := checkIDMapList(field+".uid_mappings", uids); err != nil {
		return err
	}
	return checkIDMapList(field+".gid_mappings", gids)
}

func checkDevices(devices []*runtimeapi.Device, cdi []*runtimeapi.CDIDevice) error {
	if len(devices) > maxDevices || len(cdi) > maxDevices {
		return invalid("config.devices and config.cdi_devices: at most %d each", maxDevices)
	}
	for i, d := range devices {
		field := fmt.Sprintf("config.devices[%d]", i)
		for _, p := range []struct{ name, v string }{{"host_path", d.GetHostPath()}, {"container_path", d.GetContainerPath()}} {
			if err := checkText(field+"."+p.name, p.v); err != nil {
				return err
			}
			if !filepath.IsAbs(p.v) {
				return invalid("%s.%s %q is not absolute", field, p.name, p.v)
			}
		}
		if perms := d.GetPermissions(); perms != "" && strings.Trim(perms, "rwm") != "" {
			return invalid("%s.permissions %q: want a combination of r, w and m", field, perms)
		}
	}
	return nil
}

func checkSecurityContext(sc *runtimeapi.LinuxContainerSecurityContext, sandboxNS *runtimeapi.NamespaceOption) error {
	const f = "config.linux.security_context"
	if err := checkIdentity(f, sc.GetRunAsUser(), sc.GetRunAsUsername(), sc.GetRunAsGroup()); err != nil {
		return err
	}
	if err := checkGroups(f+".supplemental_groups", sc.GetSupplementalGroups()); err != nil {
		return err
	}
	if err := checkProfile(f+".seccomp", sc.GetSeccomp(), true); err != nil {
		return err
	}
	if err := checkProfile(f+".apparmor", sc.GetApparmor(), false); err != nil {
		return err
	}
	for _, list := range []struct {
		name  string
		paths []string
	}{{"masked_paths", sc.GetMaskedPaths()}, {"readonly_paths", sc.GetReadonlyPaths()}} {
		if len(list.paths) > maxPaths {
			return invalid("%s.%s has %d entries, at most %d", f, list.name, len(list.paths), maxPaths)
		}
		for i, p := range list.paths {
			if err := checkPath(fmt.Sprintf("%s.%s[%d]", f, list.name, i), p); err != nil {
				return err
			}
		}
	}
	ns := sc.GetNamespaceOptions()
	pod, host, ctr, target := runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_NODE, runtimeapi.NamespaceMode_CONTAINER, runtimeapi.NamespaceMode_TARGET
	for _, err := range []error{
		checkNamespaceMode(f+".namespace_options.network", ns.GetNetwork(), pod, host),
		checkNamespaceMode(f+".namespace_options.ipc", ns.GetIpc(), pod, host),
		checkNamespaceMode(f+".namespace_options.pid", ns.GetPid(), pod, ctr, host, target),
		checkUserns(f+".namespace_options.userns_options", ns.GetUsernsOptions()),
	} {
		if err != nil {
			return err
		}
	}
	// A container joins its pod's network and IPC namespaces; it cannot
	// ask for the host's in a pod that has its own.
	if ns.GetNetwork() == host && sandboxNS.GetNetwork() != host {
		return invalid("%s.namespace_options.network is NODE, but the pod has a network namespace of its own", f)
	}
	if ns.GetIpc() == host && sandboxNS.GetIpc() != host {
		return invalid("%s.namespace_options.ipc is NODE, but the pod has an IPC namespace of its own", f)
	}
	if ns.GetPid() == target && ns.GetTargetId() == "" {
		return invalid("%s.namespace_options.target_id is required with the TARGET PID mode", f)
	}
	if err := checkUsernsMatch(f+".namespace_options.userns_options", ns.GetUsernsOptions(), sandboxNS.GetUsernsOptions()); err != nil {
		return err
	}
	if ownUserns(sandboxNS.GetUsernsOptions()) && ns.GetPid() == host {
		return invalid("%s.namespace_options.pid is NODE, but the pod has a user namespace of its own", f)
	}
	return nil
}
