// Package cri holds cria's gRPC services: the CRI runtime.v1 RuntimeService
// and ImageService. One file per RPC, named after it (runtime_status.go,
// image_pull.go, ...), and one per state transition that several RPCs
// share: container_observe.go (running to exited), container_exit.go (an
// exit noticed as it happens), container_stop.go, container_destroy.go,
// sandbox_teardown.go (ready to notready), sandbox_broken.go and
// recover.go (after a restart); package store draws the state diagrams.
// Handlers return errors classified with
// github.com/containerd/errdefs; UnaryInterceptor turns them into gRPC codes.
package cri

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/nri"
	"github.com/cria-runtime/cria/cri/specgen"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/cri/streaming"
	"github.com/cria-runtime/cria/image"
	"github.com/cria-runtime/cria/oci/apparmor"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/runtime"
)

// RuntimeName is what Version reports as the runtime's name.
const RuntimeName = "cria"

// Options are what the daemon hands to the services when it wires them up.
type Options struct {
	// Config is the effective, validated configuration.
	Config config.Config
	// Version is cria's release version, as `cria --version` prints it.
	Version string
	// CgroupDriver is the driver actually in use (see cgroups.ResolveDriver).
	CgroupDriver cgroups.Driver
	// Sandboxes holds the sandbox records.
	Sandboxes *store.Sandboxes
	// CNI attaches pods to the network.
	CNI *network.CNI
	// MonitorPath is the cria-monitor binary (pause program, monitor).
	MonitorPath string
	// Containers holds the container records.
	Containers *store.Containers
	// Images provides container root filesystems.
	Images *image.Service
	// Runtime is libcontainer: delete, update, kill, exec, stats, checkpoint.
	Runtime *runtime.Runtime
	// Monitors starts containers' monitors.
	Monitors *monitor.Launcher
	// Streaming serves exec, attach and port-forward streams. Set it after
	// NewRuntimeService, from StreamRuntime.
	Streaming *streaming.Server
	// AppArmor is the host's AppArmor, as found at start.
	AppArmor AppArmor
}

// AppArmor is what the daemon found of AppArmor at start.
type AppArmor struct {
	// Host reads the kernel's AppArmor state.
	Host apparmor.Host
	// Enabled tells whether the kernel enforces AppArmor.
	Enabled bool
	// Default is the loaded profile for RuntimeDefault, or "" if it could
	// not be loaded; DefaultErr then says why.
	Default    string
	DefaultErr string
}

// RuntimeService implements runtimeapi.RuntimeServiceServer.
//
// RPCs not yet written answer Unimplemented through the embedded type; each
// is replaced by a real handler in its own file.
type RuntimeService struct {
	runtimeapi.UnimplementedRuntimeServiceServer

	opts       Options
	sandboxes  *store.Sandboxes
	containers *store.Containers

	mu sync.Mutex // protects podCIDRs
	// podCIDRs is what the kubelet last sent through UpdateRuntimeConfig.
	podCIDRs []string

	events *events
	stats  statsCollector
	// hasMountSetattr tells whether the kernel has mount_setattr(2), which
	// recursive read-only mounts need.
	hasMountSetattr bool
	// selinuxEnabled tells whether the host enforces SELinux (selinuxfs
	// is mounted).
	selinuxEnabled bool
	// oomScoreAdjFloor is the daemon's own oom_score_adj when it cannot
	// lower it (no CAP_SYS_RESOURCE); nil when it can.
	oomScoreAdjFloor *int
	// node is what request checks need of the machine (validate.go).
	node node
	// nri relays the lifecycle to NRI plugins; nil when disabled.
	nri *nri.NRI
	// cdi injects CDI devices from the config's cdi_spec_dirs.
	cdi *specgen.CDI
	// userns tells whether pods can have user namespaces of their own;
	// usernsWhy says why not.
	userns    bool
	usernsWhy string

	// ctrConfigs and podConfigs keep records' CRI configs decoded.
	ctrConfigs *decoded[*runtimeapi.ContainerConfig]
	podConfigs *decoded[*runtimeapi.PodSandboxConfig]
	// statuses and listed keep what ContainerStatus and ListContainers
	// build of containers' records.
	statuses *views[*runtimeapi.ContainerStatus]
	listed   *views[*runtimeapi.Container]

	exitMu sync.Mutex // protects exitWatched
	// exitWatched holds the running containers whose monitor's end is
	// awaited (watchExit).
	exitWatched map[string]bool

	runMu sync.Mutex // protects runs and unclaimed
	// runs are the RunPodSandbox calls in progress, by sandbox name.
	runs map[string]*runOp
	// unclaimed are sandboxes finished after their caller gave up, by
	// name, kept for the kubelet's retry.
	unclaimed map[string]string
}

// Counts returns how many sandboxes and containers are in each state.
func (s *RuntimeService) Counts() (sandboxes, containers map[string]int) {
	sandboxes, containers = map[string]int{}, map[string]int{}
	for _, sb := range s.sandboxes.List() {
		sandboxes[string(sb.State)]++
	}
	for _, c := range s.containers.List() {
		containers[string(c.State)]++
	}
	return sandboxes, containers
}

// SetStreaming gives the service its streaming server (which needs the
// service's StreamRuntime first, hence after construction).
func (s *RuntimeService) SetStreaming(srv *streaming.Server) { s.opts.Streaming = srv }

// NewRuntimeService returns a RuntimeService for opts. Call Recover before
// serving.
func NewRuntimeService(opts Options) *RuntimeService {
	s := &RuntimeService{opts: opts, sandboxes: opts.Sandboxes, containers: opts.Containers, events: newEvents(), stats: statsCollector{samples: map[string]*sample{}, paths: map[string]map[string]string{}, layers: map[string]*layerUsage{}}, runs: map[string]*runOp{}, unclaimed: map[string]string{}, exitWatched: map[string]bool{},
		ctrConfigs:      newDecoded(func() *runtimeapi.ContainerConfig { return &runtimeapi.ContainerConfig{} }),
		podConfigs:      newDecoded(func() *runtimeapi.PodSandboxConfig { return &runtimeapi.PodSandboxConfig{} }),
		statuses:        newViews[*runtimeapi.ContainerStatus](),
		listed:          newViews[*runtimeapi.Container](),
		hasMountSetattr: probeMountSetattr(), selinuxEnabled: probeSELinux(), oomScoreAdjFloor: probeOOMScoreAdjFloor(),
		node: probeNode(cgroups.IsV2()), cdi: specgen.NewCDI(opts.Config.CDISpecDirs)}
	s.userns, s.usernsWhy = probeUserns(opts.Images, opts.Config.Root)
	return s
}

// probeOOMScoreAdjFloor returns the daemon's oom_score_adj if it lacks
// CAP_SYS_RESOURCE, without which no process it starts can go below it;
// nil if it has the capability.
func probeOOMScoreAdjFloor() *int {
	if slices.Contains(hostCapabilities(), "CAP_SYS_RESOURCE") {
		return nil
	}
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	return &v
}

// probeSELinux tells whether the host enforces SELinux: its filesystem
// is mounted (as go-selinux decides, in short).
func probeSELinux() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

// probeMountSetattr calls mount_setattr(2) on no file: a kernel that has it
// answers EBADF, one that lacks it ENOSYS.
func probeMountSetattr() bool {
	err := unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}

// ImageService implements runtimeapi.ImageServiceServer over image.Service.
type ImageService struct {
	runtimeapi.UnimplementedImageServiceServer

	images *image.Service
}

// NewImageService returns an ImageService serving images.
func NewImageService(images *image.Service) *ImageService {
	return &ImageService{images: images}
}

// Register registers both CRI services on s.
func Register(s *grpc.Server, rt *RuntimeService, img *ImageService) {
	runtimeapi.RegisterRuntimeServiceServer(s, rt)
	runtimeapi.RegisterImageServiceServer(s, img)
}
