package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/nri/pkg/api"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/nri"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// SetNRI gives the service its NRI (nil: disabled), made from NRIDomain
// after the service, before it serves.
func (s *RuntimeService) SetNRI(n *nri.NRI) { s.nri = n }

// NRIDomain is what NRI plugins see of the service and may change.
func (s *RuntimeService) NRIDomain() nri.Domain { return nriDomain{s} }

// nriPod describes a sandbox to NRI plugins.
func nriPod(sb *store.Sandbox) *api.PodSandbox {
	cfg := sandboxConfig(sb)
	md := cfg.GetMetadata()
	p := &api.PodSandbox{
		Id: sb.ID, Name: md.GetName(), Uid: md.GetUid(), Namespace: md.GetNamespace(),
		Labels: cfg.GetLabels(), Annotations: cfg.GetAnnotations(), RuntimeHandler: sb.RuntimeHandler,
		Pid: uint32(sb.PausePID), Ips: sb.IPs,
		Linux: &api.LinuxPodSandbox{
			CgroupParent: sb.CgroupParent,
			PodOverhead:  api.FromOCILinuxResources(cgroups.ToOCI(cfg.GetLinux().GetOverhead()), nil),
			PodResources: api.FromOCILinuxResources(cgroups.ToOCI(cfg.GetLinux().GetResources()), nil),
		},
	}
	for _, ns := range []struct{ kind, path string }{
		{"network", sb.NetNS}, {"ipc", sb.IPCNS}, {"uts", sb.UTSNS}, {"pid", sb.PIDNS}, {"user", sb.UserNS},
	} {
		if ns.path != "" {
			p.Linux.Namespaces = append(p.Linux.Namespaces, &api.LinuxNamespace{Type: ns.kind, Path: ns.path})
		}
	}
	return p
}

// nriContainer describes a container to NRI plugins, from its record and
// its OCI spec (read from its directory when spec is nil; a container
// whose spec is not written yet is described by its record alone).
func nriContainer(c *store.Container, spec *specs.Spec) *api.Container {
	cfg := containerConfig(c)
	if spec == nil {
		if b, err := readFile(c.Dir, wire.SpecFile); err == nil {
			spec = &specs.Spec{}
			if json.Unmarshal(b, spec) != nil {
				spec = nil
			}
		}
	}
	ctr := &api.Container{
		Id: c.ID, PodSandboxId: c.SandboxID, Name: cfg.GetMetadata().GetName(),
		Labels: cfg.GetLabels(), Annotations: cfg.GetAnnotations(),
		CreatedAt: c.CreatedAt, StartedAt: c.StartedAt, Pid: uint32(c.Pid),
		Image: &api.Image{Name: c.ImageRef},
	}
	switch c.State {
	case store.ContainerCreated:
		ctr.State = api.ContainerState_CONTAINER_CREATED
	case store.ContainerRunning:
		ctr.State = api.ContainerState_CONTAINER_RUNNING
	case store.ContainerExited:
		ctr.State = api.ContainerState_CONTAINER_STOPPED
		ctr.FinishedAt, ctr.ExitCode = c.FinishedAt, c.ExitCode
		ctr.StatusReason, ctr.StatusMessage = c.Reason, c.Message
	}
	if c.User != nil {
		ctr.User = &api.User{Uid: c.User.UID, Gid: c.User.GID, AdditionalGids: c.User.Groups}
	}
	for _, d := range cfg.GetCDIDevices() {
		ctr.CDIDevices = append(ctr.CDIDevices, &api.CDIDevice{Name: d.GetName()})
	}
	if spec == nil {
		return ctr
	}
	ctr.Mounts = api.FromOCIMounts(spec.Mounts)
	ctr.Hooks = api.FromOCIHooks(spec.Hooks)
	if p := spec.Process; p != nil {
		ctr.Args, ctr.Env = p.Args, p.Env
		for _, r := range p.Rlimits {
			ctr.Rlimits = append(ctr.Rlimits, &api.POSIXRlimit{Type: r.Type, Hard: r.Hard, Soft: r.Soft})
		}
	}
	if l := spec.Linux; l != nil {
		ctr.Linux = &api.LinuxContainer{
			Namespaces:  api.FromOCILinuxNamespaces(l.Namespaces),
			Devices:     api.FromOCILinuxDevices(l.Devices),
			Resources:   api.FromOCILinuxResources(l.Resources, nil),
			CgroupsPath: l.CgroupsPath,
			Sysctl:      l.Sysctl,
		}
		if p := spec.Process; p != nil {
			if p.OOMScoreAdj != nil {
				ctr.Linux.OomScoreAdj = api.Int(*p.OOMScoreAdj)
			}
			ctr.Linux.IoPriority = api.FromOCILinuxIOPriority(p.IOPriority)
			ctr.Linux.Scheduler = api.FromOCILinuxScheduler(p.Scheduler)
		}
		if l.Seccomp != nil {
			ctr.Linux.SeccompPolicy = api.FromOCILinuxSeccomp(l.Seccomp)
		}
	}
	return ctr
}

// nriStopContainer tells plugins that c stopped, once. The caller holds
// NRI's block and c's lock.
func (s *RuntimeService) nriStopContainer(ctx context.Context, c *store.Container) {
	if !s.nri.Active() || s.nri.Stopped(c.ID) {
		return
	}
	sb, err := s.sandboxes.Get(c.SandboxID)
	if err != nil {
		return
	}
	if err := s.nri.StopContainer(ctx, nriPod(sb), nriContainer(c, nil)); err != nil {
		Logger(ctx).Warn("nri: StopContainer", "container_id", c.ID, "error", err)
	}
}

// nriRemoveContainer tells plugins that c is gone. The caller holds NRI's
// block and c's lock; c's record is deleted.
func (s *RuntimeService) nriRemoveContainer(ctx context.Context, sb *store.Sandbox, c *store.Container) {
	if !s.nri.Active() {
		s.nri.Forget(c.ID)
		return
	}
	if err := s.nri.RemoveContainer(ctx, nriPod(sb), nriContainer(c, nil)); err != nil {
		Logger(ctx).Warn("nri: RemoveContainer", "container_id", c.ID, "error", err)
	}
}

// nriExited tells plugins, in the background, that a container exited
// by itself (StopContainer, as if stopped), before anything else of it.
func (s *RuntimeService) nriExited(id string) {
	if !s.nri.Active() || s.nri.Stopped(id) {
		return
	}
	go func() {
		defer s.nri.Block()()
		c, unlock, err := s.lockContainer(id)
		if err != nil {
			return
		}
		defer unlock()
		s.nriStopContainer(context.Background(), c)
	}()
}

// nriDomain is the service as NRI sees it.
type nriDomain struct{ s *RuntimeService }

// Snapshot lists the pods and containers that are made.
func (d nriDomain) Snapshot() ([]*api.PodSandbox, []*api.Container) {
	var pods []*api.PodSandbox
	for _, sb := range d.s.sandboxes.List() {
		if sb.State != store.SandboxCreating {
			pods = append(pods, nriPod(sb))
		}
	}
	var ctrs []*api.Container
	for _, c := range d.s.containers.List() {
		if c.State != store.ContainerCreating {
			ctrs = append(ctrs, nriContainer(c, nil))
		}
	}
	return pods, ctrs
}

// nriLockWait bounds how long a plugin's update waits for a container
// that an operation holds.
const nriLockWait = 10 * time.Second

// lockContainerWithin takes a container's lock, waiting at most d.
func (s *RuntimeService) lockContainerWithin(id string, d time.Duration) (*store.Container, func(), error) {
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		c, err := s.containers.Get(id)
		if err != nil {
			return nil, nil, err
		}
		if unlock, ok := s.containers.TryLock(c.ID); ok {
			if c, err = s.containers.Get(c.ID); err != nil {
				unlock()
				return nil, nil, err
			}
			return c, unlock, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("container %s is busy: %w", id, errdefs.ErrUnavailable)
		}
	}
}

// Update applies plugins' resource updates to containers.
func (d nriDomain) Update(ctx context.Context, updates []*api.ContainerUpdate) ([]*api.ContainerUpdate, error) {
	var failed []*api.ContainerUpdate
	for _, u := range updates {
		if err := d.s.nriUpdate(ctx, u.GetContainerId(), u.GetLinux().GetResources()); err != nil {
			Logger(ctx).Warn("nri: applying a plugin's container update", "container_id", u.GetContainerId(), "error", err)
			failed = append(failed, u)
		}
	}
	return failed, nil
}

// nriUpdate applies res to container id's cgroup and spec.
func (s *RuntimeService) nriUpdate(ctx context.Context, id string, res *api.LinuxResources) error {
	if res == nil {
		return nil
	}
	c, unlock, err := s.lockContainerWithin(id, nriLockWait)
	if err != nil {
		return err
	}
	defer unlock()
	if c = s.observe(c); c.State == store.ContainerExited {
		return fmt.Errorf("container %s has exited: %w", id, errdefs.ErrFailedPrecondition)
	}
	oci := res.ToOCI()
	if err := checkNodeResources(oci); err != nil {
		return err
	}
	if err := s.opts.Runtime.Update(c.ID, oci); err != nil {
		return err
	}
	return mergeSpecResources(c.Dir, oci)
}

// Evict stops the containers that plugins evict, at once.
func (d nriDomain) Evict(ctx context.Context, evictions []*api.ContainerEviction) error {
	var errs []error
	for _, e := range evictions {
		c, unlock, err := d.s.lockContainerWithin(e.GetContainerId(), nriLockWait)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		Logger(ctx).Info("nri: a plugin evicts a container", "container_id", c.ID, "reason", e.GetReason())
		if _, err := d.s.stopContainer(ctx, c, 0); err != nil {
			errs = append(errs, err)
		}
		unlock()
	}
	return errors.Join(errs...)
}

// checkNodeResources refuses what this node's cgroups cannot enforce,
// rather than drop it: unified settings on cgroup v1, hugepage limits
// without the hugetlb controller.
func checkNodeResources(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	if len(res.Unified) > 0 && !cgroups.IsV2() {
		return fmt.Errorf("unified cgroup settings need cgroup v2; this node has v1: %w", errdefs.ErrFailedPrecondition)
	}
	if len(res.HugepageLimits) > 0 {
		probe := &specs.LinuxResources{HugepageLimits: res.HugepageLimits}
		if cgroups.DropUnavailable(probe); probe.HugepageLimits == nil {
			return fmt.Errorf("hugepage limits need the hugetlb cgroup controller, which this node lacks: %w", errdefs.ErrFailedPrecondition)
		}
	}
	return nil
}

// mergeSpecResources sets in a container's stored spec what res sets.
func mergeSpecResources(dir string, res *specs.LinuxResources) error {
	return editSpec(dir, func(spec *specs.Spec) {
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		if spec.Linux.Resources == nil {
			spec.Linux.Resources = &specs.LinuxResources{}
		}
		mergeResources(spec.Linux.Resources, res)
	})
}

// mergeResources sets in dst what src sets.
func mergeResources(dst, src *specs.LinuxResources) {
	if c := src.CPU; c != nil {
		if dst.CPU == nil {
			dst.CPU = &specs.LinuxCPU{}
		}
		d := dst.CPU
		setIf(&d.Shares, c.Shares)
		setIf(&d.Quota, c.Quota)
		setIf(&d.Period, c.Period)
		setIf(&d.RealtimeRuntime, c.RealtimeRuntime)
		setIf(&d.RealtimePeriod, c.RealtimePeriod)
		if c.Cpus != "" {
			d.Cpus = c.Cpus
		}
		if c.Mems != "" {
			d.Mems = c.Mems
		}
	}
	if m := src.Memory; m != nil {
		if dst.Memory == nil {
			dst.Memory = &specs.LinuxMemory{}
		}
		setIf(&dst.Memory.Limit, m.Limit)
		setIf(&dst.Memory.Reservation, m.Reservation)
		setIf(&dst.Memory.Swap, m.Swap)
	}
	setIf(&dst.Pids, src.Pids)
	setIf(&dst.BlockIO, src.BlockIO)
	if len(src.HugepageLimits) > 0 {
		dst.HugepageLimits = src.HugepageLimits
	}
	for k, v := range src.Unified {
		if dst.Unified == nil {
			dst.Unified = map[string]string{}
		}
		dst.Unified[k] = v
	}
}

// setIf sets *dst to src if src is set.
func setIf[T any](dst **T, src *T) {
	if src != nil {
		*dst = src
	}
}

// nriSpecOptions is how cria applies to a spec what NRI leaves to the
// runtime.
func (s *RuntimeService) nriSpecOptions() nri.SpecOptions {
	return nri.SpecOptions{
		CheckResources: checkNodeResources,
		InjectCDI: func(spec *specs.Spec, names []string) error {
			return s.cdi.Inject(spec, names)
		},
	}
}

// nriResources is a container's CRI resources as NRI's.
func nriResources(r *runtimeapi.LinuxContainerResources) *api.LinuxResources {
	return api.FromOCILinuxResources(cgroups.ToOCI(r), nil)
}

// nriStopPodSandbox tells plugins that a pod's containers are stopped,
// before its network goes, the first time it is stopped. The caller holds
// NRI's block and the sandbox's lock.
func (s *RuntimeService) nriStopPodSandbox(ctx context.Context, sb *store.Sandbox) {
	if sb.StoppedAt != 0 || !s.nri.Active() {
		return
	}
	if err := s.nri.StopPodSandbox(ctx, nriPod(sb)); err != nil {
		Logger(ctx).Warn("nri: StopPodSandbox", "pod_sandbox_id", sb.ID, "error", err)
	}
}
