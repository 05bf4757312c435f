// Package nri relays cria's pod and container lifecycle to Node Resource
// Interface plugins (github.com/containerd/nri), through the module's
// adaptation, and applies what they ask: adjustments to a container's OCI
// spec before it is made, updates to running containers, evictions.
//
// The runtime service calls one method per lifecycle event, at the point
// where containerd and CRI-O call it, each inside a Block: a plugin that
// connects is synchronised only between two lifecycle operations, so the
// pods and containers it is given are a consistent set. A nil *NRI (NRI
// disabled) does nothing, and with no plugin connected the service skips
// building the objects at all (Active).
package nri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	nrilog "github.com/containerd/nri/pkg/log"
	nrigen "github.com/containerd/nri/pkg/runtime-tools/generate"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cria-runtime/cria/cri/config"
)

// Domain is what NRI needs of the runtime service: the objects plugins may
// see, and the changes they may ask for.
type Domain interface {
	// Snapshot lists every pod and container that is made (none whose
	// RunPodSandbox or CreateContainer is still in progress).
	Snapshot() ([]*api.PodSandbox, []*api.Container)
	// Update applies resource updates to containers and returns those
	// that failed.
	Update(ctx context.Context, updates []*api.ContainerUpdate) ([]*api.ContainerUpdate, error)
	// Evict stops the containers named.
	Evict(ctx context.Context, evictions []*api.ContainerEviction) error
}

// NRI is cria's side of the adaptation.
type NRI struct {
	a      *adaptation.Adaptation
	domain Domain
	log    *slog.Logger
	// plugins counts the connected plugins (the adaptation reports it).
	plugins atomic.Int32

	// calls are the calls to plugins, made one at a time in this order
	// by one goroutine: a notification (Post*) that nothing waits for
	// still reaches plugins before whatever follows it.
	calls chan func()

	mu sync.Mutex // protects stopped
	// stopped holds the containers whose StopContainer plugins were sent,
	// so that it goes out once, whether the container was stopped or
	// exited; forgotten at RemoveContainer.
	stopped map[string]bool
}

// New makes cria's NRI from the [nri] section; nil when it is disabled.
// Start it after the daemon's records are recovered.
func New(cfg config.NRIConfig, version string, d Domain, log *slog.Logger) (*NRI, error) {
	if !cfg.Enable {
		return nil, nil
	}
	n := &NRI{domain: d, log: log, stopped: map[string]bool{}, calls: make(chan func(), 1024)}
	nrilog.Set(logger{log})
	adaptation.SetPluginRegistrationTimeout(cfg.RegistrationTimeoutDuration())
	adaptation.SetPluginRequestTimeout(cfg.RequestTimeoutDuration())
	opts := []adaptation.Option{
		adaptation.WithSocketPath(cfg.SocketPath),
		adaptation.WithPluginPath(cfg.PluginPath),
		adaptation.WithPluginConfigPath(cfg.PluginConfigPath),
		adaptation.WithMetrics(pluginCounter{n}),
	}
	if cfg.DisableConnections {
		opts = append(opts, adaptation.WithDisabledExternalConnections())
	}
	a, err := adaptation.New("cria", version, n.synchronize, n.update, opts...)
	if err != nil {
		return nil, fmt.Errorf("nri: %w", err)
	}
	n.a = a
	go func() {
		for fn := range n.calls {
			fn()
		}
	}()
	return n, nil
}

// call makes a call to plugins in its turn and waits for it.
func (n *NRI) call(fn func()) {
	done := make(chan struct{})
	n.calls <- func() { defer close(done); fn() }
	<-done
}

// notify queues a notification for plugins behind every call made so
// far and returns; a plugin's error is logged.
func (n *NRI) notify(ctx context.Context, what string, fn func(context.Context) error) {
	ctx = context.WithoutCancel(ctx)
	n.calls <- func() {
		if err := fn(ctx); err != nil {
			n.log.Warn("nri: "+what, "error", err)
		}
	}
}

// Start starts the pre-installed plugins and listens for others.
func (n *NRI) Start() error {
	if n == nil {
		return nil
	}
	if err := n.a.Start(); err != nil {
		return fmt.Errorf("nri: %w", err)
	}
	return nil
}

// Stop disconnects every plugin and stops listening.
func (n *NRI) Stop() {
	if n != nil {
		n.a.Stop()
	}
}

// Active tells whether a plugin is connected: without one, no event
// needs its objects built.
func (n *NRI) Active() bool { return n != nil && n.plugins.Load() > 0 }

// Block holds off a connecting plugin's synchronisation until the returned
// function is called. Each lifecycle operation takes it once, before any
// lock of the runtime's (the synchronisation reads the records).
func (n *NRI) Block() (unblock func()) {
	if n == nil {
		return func() {}
	}
	return n.a.BlockPluginSync().Unblock
}

// synchronize gives a connecting plugin every pod and container, and
// applies the updates it answers with.
func (n *NRI) synchronize(ctx context.Context, cb adaptation.SyncCB) error {
	pods, ctrs := n.domain.Snapshot()
	updates, err := cb(ctx, pods, ctrs)
	if err != nil {
		return err
	}
	return n.apply(ctx, updates, nil)
}

// update applies a plugin's unsolicited updates.
func (n *NRI) update(ctx context.Context, updates []*api.ContainerUpdate) ([]*api.ContainerUpdate, error) {
	return n.domain.Update(ctx, updates)
}

// apply applies updates and evictions that plugins asked for in answer to
// an event: an update that fails without IgnoreFailure is an error.
func (n *NRI) apply(ctx context.Context, updates []*api.ContainerUpdate, evictions []*api.ContainerEviction) error {
	if len(updates) > 0 {
		failed, err := n.domain.Update(ctx, updates)
		if err != nil {
			return err
		}
		for _, u := range failed {
			if !u.GetIgnoreFailure() {
				return fmt.Errorf("nri: updating container %s as a plugin asked failed", u.GetContainerId())
			}
		}
	}
	if len(evictions) > 0 {
		return n.domain.Evict(ctx, evictions)
	}
	return nil
}

// RunPodSandbox tells plugins of a new pod, before it is listed or ready:
// an error fails the RPC.
func (n *NRI) RunPodSandbox(ctx context.Context, pod *api.PodSandbox) error {
	var err error
	n.call(func() { err = n.a.RunPodSandbox(ctx, &api.RunPodSandboxRequest{Pod: pod}) })
	return err
}

// StopPodSandbox tells plugins that a pod's containers are stopped and its
// network is about to go.
func (n *NRI) StopPodSandbox(ctx context.Context, pod *api.PodSandbox) error {
	var err error
	n.call(func() { err = n.a.StopPodSandbox(ctx, &api.StopPodSandboxRequest{Pod: pod}) })
	return err
}

// RemovePodSandbox tells plugins that a pod is gone.
func (n *NRI) RemovePodSandbox(ctx context.Context, pod *api.PodSandbox) error {
	var err error
	n.call(func() { err = n.a.RemovePodSandbox(ctx, &api.RemovePodSandboxRequest{Pod: pod}) })
	return err
}

// UpdatePodSandbox tells plugins of a pod's new overhead and resources.
func (n *NRI) UpdatePodSandbox(ctx context.Context, pod *api.PodSandbox, overhead, resources *api.LinuxResources) error {
	var err error
	n.call(func() {
		_, err = n.a.UpdatePodSandbox(ctx, &api.UpdatePodSandboxRequest{Pod: pod, OverheadLinuxResources: overhead, LinuxResources: resources})
	})
	return err
}

// PostUpdatePodSandbox tells plugins that a pod's update is done.
func (n *NRI) PostUpdatePodSandbox(ctx context.Context, pod *api.PodSandbox) {
	n.notify(ctx, "PostUpdatePodSandbox", func(ctx context.Context) error {
		return n.a.PostUpdatePodSandbox(ctx, &api.PostUpdatePodSandboxRequest{Pod: pod})
	})
}

// SpecOptions is how cria applies what NRI cannot on its own.
type SpecOptions struct {
	// CheckResources refuses resources this node cannot enforce.
	CheckResources func(*specs.LinuxResources) error
	// InjectCDI injects CDI devices by name.
	InjectCDI func(*specs.Spec, []string) error
}

// CreateContainer asks plugins about a container about to be made and
// applies their adjustment to its spec; what cannot be applied is an
// error naming it. Their updates and evictions of other containers are
// applied too. Should anything fail, the caller undoes the create, and
// plugins are told (StopContainer, RemoveContainer).
func (n *NRI) CreateContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container, spec *specs.Spec, o SpecOptions) error {
	var rpl *api.CreateContainerResponse
	var err error
	n.call(func() { rpl, err = n.a.CreateContainer(ctx, &api.CreateContainerRequest{Pod: pod, Container: ctr}) })
	if err != nil {
		return err
	}
	if err := adjust(spec, rpl.GetAdjust(), o); err != nil {
		return err
	}
	return n.apply(ctx, rpl.GetUpdate(), rpl.GetEvict())
}

// adjust applies a plugins' adjustment to spec.
func adjust(spec *specs.Spec, adj *api.ContainerAdjustment, o SpecOptions) error {
	if adj == nil {
		return nil
	}
	if len(adj.GetLinux().GetNetDevices()) > 0 {
		// The pod's network namespace is CNI's: a device moved into it
		// would outlive the container.
		return errors.New("nri: a plugin asked for network devices (linux.net_devices), which cria does not move into containers")
	}
	g := nrigen.SpecGenerator(specEditor{spec},
		nrigen.WithResourceChecker(o.CheckResources),
		nrigen.WithCDIDeviceInjector(o.InjectCDI),
		nrigen.WithBlockIOResolver(func(class string) (*specs.LinuxBlockIO, error) {
			return nil, fmt.Errorf("nri: a plugin asked for block I/O class %q; cria has no block I/O classes", class)
		}),
		nrigen.WithRdtResolver(func(class string) (*specs.LinuxIntelRdt, error) {
			return nil, fmt.Errorf("nri: a plugin asked for RDT class %q; cria has no RDT classes", class)
		}),
	)
	if err := g.Adjust(adj); err != nil {
		return fmt.Errorf("nri: applying a plugin's adjustment: %w", err)
	}
	return adjustMemory(specEditor{spec}, adj.GetLinux().GetResources().GetMemory())
}

// adjustMemory applies what NRI's adjuster leaves out of a memory
// adjustment (it sets the limit alone, and the swap limit to it), or
// refuses what cgroups no longer have.
func adjustMemory(e specEditor, m *api.LinuxMemory) error {
	switch {
	case m == nil:
		return nil
	case m.GetKernel() != nil || m.GetKernelTcp() != nil:
		return errors.New("nri: a plugin asked for a kernel memory limit, which cgroups no longer have")
	case m.GetUseHierarchy() != nil:
		return errors.New("nri: a plugin asked for memory.use_hierarchy, which cgroups no longer let be set")
	}
	mem := e.memory()
	if v := m.GetReservation(); v != nil {
		mem.Reservation = &v.Value
	}
	if v := m.GetSwap(); v != nil {
		mem.Swap = &v.Value
	}
	if v := m.GetSwappiness(); v != nil {
		mem.Swappiness = &v.Value
	}
	if v := m.GetDisableOomKiller(); v != nil {
		mem.DisableOOMKiller = &v.Value
	}
	return nil
}

// PostCreateContainer tells plugins that a container is made.
func (n *NRI) PostCreateContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) {
	n.notify(ctx, "PostCreateContainer", func(ctx context.Context) error {
		return n.a.PostCreateContainer(ctx, &api.PostCreateContainerRequest{Pod: pod, Container: ctr})
	})
}

// StartContainer tells plugins that a container is about to start.
func (n *NRI) StartContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) error {
	var err error
	n.call(func() { err = n.a.StartContainer(ctx, &api.StartContainerRequest{Pod: pod, Container: ctr}) })
	return err
}

// PostStartContainer tells plugins that a container started.
func (n *NRI) PostStartContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) {
	n.notify(ctx, "PostStartContainer", func(ctx context.Context) error {
		return n.a.PostStartContainer(ctx, &api.PostStartContainerRequest{Pod: pod, Container: ctr})
	})
}

// UpdateContainer asks plugins about new resources for a container and
// returns the resources to apply to it (theirs where they adjusted them);
// their updates of other containers are applied.
func (n *NRI) UpdateContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container, res *api.LinuxResources) (*api.LinuxResources, error) {
	var rpl *api.UpdateContainerResponse
	var err error
	n.call(func() {
		rpl, err = n.a.UpdateContainer(ctx, &api.UpdateContainerRequest{Pod: pod, Container: ctr, LinuxResources: res})
	})
	if err != nil {
		return nil, err
	}
	var others []*api.ContainerUpdate
	for _, u := range rpl.GetUpdate() {
		if u.GetContainerId() == ctr.GetId() {
			res = u.GetLinux().GetResources()
			continue
		}
		others = append(others, u)
	}
	if err := n.apply(ctx, others, rpl.GetEvict()); err != nil {
		return nil, err
	}
	return res, nil
}

// PostUpdateContainer tells plugins that a container's resources changed.
func (n *NRI) PostUpdateContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) {
	n.notify(ctx, "PostUpdateContainer", func(ctx context.Context) error {
		return n.a.PostUpdateContainer(ctx, &api.PostUpdateContainerRequest{Pod: pod, Container: ctr})
	})
}

// StopContainer tells plugins that a container stopped (or exited), once
// per container, and applies the updates they answer with. The caller
// holds the container's lock.
func (n *NRI) StopContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) error {
	n.mu.Lock()
	done := n.stopped[ctr.GetId()]
	n.stopped[ctr.GetId()] = true
	n.mu.Unlock()
	if done {
		return nil
	}
	var rpl *api.StopContainerResponse
	var err error
	n.call(func() { rpl, err = n.a.StopContainer(ctx, &api.StopContainerRequest{Pod: pod, Container: ctr}) })
	if err != nil {
		return err
	}
	return n.apply(ctx, rpl.GetUpdate(), nil)
}

// RemoveContainer tells plugins that a container is gone (and first that
// it stopped, if they were not told). The caller holds the container's
// lock, and its record is deleted.
func (n *NRI) RemoveContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) error {
	if err := n.StopContainer(ctx, pod, ctr); err != nil {
		n.log.Warn("nri: StopContainer before RemoveContainer", "container_id", ctr.GetId(), "error", err)
	}
	n.Forget(ctr.GetId())
	var err error
	n.call(func() { err = n.a.RemoveContainer(ctx, &api.RemoveContainerRequest{Pod: pod, Container: ctr}) })
	return err
}

// Forget drops what is kept of a container that is gone.
func (n *NRI) Forget(id string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	delete(n.stopped, id)
	n.mu.Unlock()
}

// Stopped tells whether plugins were told that a container stopped.
func (n *NRI) Stopped(id string) bool {
	if n == nil {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopped[id]
}

// pluginCounter keeps the count of connected plugins, which the
// adaptation reports through its metrics.
type pluginCounter struct{ n *NRI }

func (c pluginCounter) RecordPluginInvocation(string, string, error)                               {}
func (c pluginCounter) RecordPluginLatency(string, string, time.Duration)                          {}
func (c pluginCounter) RecordPluginAdjustments(string, string, *api.ContainerAdjustment, int, int) {}
func (c pluginCounter) UpdatePluginCount(count int)                                                { c.n.plugins.Store(int32(count)) }

// logger sends the adaptation's log to cria's.
type logger struct{ l *slog.Logger }

func (l logger) Debugf(ctx context.Context, format string, args ...any) {
	l.l.DebugContext(ctx, "nri: "+fmt.Sprintf(format, args...))
}

func (l logger) Infof(ctx context.Context, format string, args ...any) {
	l.l.InfoContext(ctx, "nri: "+fmt.Sprintf(format, args...))
}

func (l logger) Warnf(ctx context.Context, format string, args ...any) {
	l.l.WarnContext(ctx, "nri: "+fmt.Sprintf(format, args...))
}

func (l logger) Errorf(ctx context.Context, format string, args ...any) {
	msg := "nri: " + fmt.Sprintf(format, args...)
	if strings.Contains(msg, adaptation.ErrWasmDisabled.Error()) {
		// cria is built without WASM plugins (nri_no_wasm), on purpose:
		// the adaptation says so at every start.
		l.l.DebugContext(ctx, msg)
		return
	}
	l.l.ErrorContext(ctx, msg)
}
