package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
)

// sandboxConfig decodes the CRI config kept in a record.
func sandboxConfig(sb *store.Sandbox) *runtimeapi.PodSandboxConfig {
	c := &runtimeapi.PodSandboxConfig{}
	_ = protojson.Unmarshal(sb.Config, c) // written by us from a valid message
	return c
}

// cniPod describes sb to the CNI plugins.
func cniPod(sb *store.Sandbox, c *runtimeapi.PodSandboxConfig) network.Pod {
	p := network.Pod{
		ID:        sb.ID,
		Name:      c.GetMetadata().GetName(),
		Namespace: c.GetMetadata().GetNamespace(),
		UID:       c.GetMetadata().GetUid(),
	}
	if network.IsPinned(sb.NetNS) {
		p.NetNS = sb.NetNS
	}
	for _, pm := range c.GetPortMappings() {
		if pm.HostPort == 0 {
			continue // no host port: nothing to map
		}
		proto := strings.ToLower(pm.Protocol.String())
		p.PortMappings = append(p.PortMappings, network.PortMapping{
			HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: proto, HostIP: pm.HostIp,
		})
	}
	return p
}

// startPause starts the pod's pause process (see monitor.StartPause) in
// the pod's namespaces (or, with create, in new ones that it then sets up
// and pins as create asks), pins its PID namespace at sb.PIDNS, and
// records both durably,
// then moves it into its cgroup and lets it run. A crash at any instant
// leaves either no pause (one not yet let run ends by itself) or a
// recorded one. It fills in sb's pause fields; on error the caller's
// teardown of sb releases what they name.
func (s *RuntimeService) startPause(sb *store.Sandbox, create *network.NamespaceRequest) (retErr error) {
	cg := pauseCgroup(s.opts.CgroupDriver, sb)
	o := monitor.PauseOptions{Binary: s.opts.MonitorPath, Root: sb.Dir, Net: sb.NetNS, IPC: sb.IPCNS, UTS: sb.UTSNS}
	if create != nil {
		o.UserNS = &monitor.UserNS{UIDs: create.User.UIDs, GIDs: create.User.GIDs, Net: create.Net, IPC: create.IPC, UTS: create.UTS}
	}
	p, err := monitor.StartPause(o)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			p.Kill()
		}
	}()
	if create != nil {
		// The paths were recorded before anything was made: a crash
		// from here on finds the pins to release.
		sb.Pinned = true
		if _, err := network.PinNamespacesOf(p.Pid, *create); err != nil {
			return err
		}
	}
	// sb.PIDNS was recorded before anything was made, so that a crash
	// right after the pin still finds it to release.
	if err := network.PinPIDNamespace(p.Pid, sb.PIDNS); err != nil {
		return err
	}
	sb.Pinned = true
	sb.PausePID, sb.PauseStart, sb.PauseCgroup = p.Pid, p.Start, cg.String()
	if err := s.sandboxes.Put(sb); err != nil {
		return err
	}
	if err := cg.Apply(p.Pid); err != nil {
		return err
	}
	if err := p.Release(); err != nil {
		return fmt.Errorf("letting the pause process run: %w", err)
	}
	go func() {
		<-p.Exited
		s.checkSandbox(sb.ID)
	}()
	return nil
}

// processStart reads a process's start time (clock ticks since boot) from
// /proc/<pid>/stat, which tells a live process from a reused pid. A zombie
// (exited, not yet reaped) counts as gone: os.ErrProcessDone.
func processStart(pid int) (uint64, error) { return monitor.ProcessStart(pid) }

// pauseAlive tells whether sb's pause process is the one cria started.
func pauseAlive(sb *store.Sandbox) bool {
	if sb.PausePID == 0 {
		return false
	}
	start, err := processStart(sb.PausePID)
	return err == nil && start == sb.PauseStart
}

// killPause ends sb's pause process (and so its PID namespace) and waits
// up to 10 s for it to go. A pid that now belongs to another process is
// never signalled.
func killPause(sb *store.Sandbox) error {
	if !pauseAlive(sb) {
		return nil
	}
	if err := unix.Kill(sb.PausePID, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("killing pause process %d: %w", sb.PausePID, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pauseAlive(sb) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pause process %d did not exit", sb.PausePID)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// pauseCgroup is the cgroup of sb's pause process.
func pauseCgroup(driver cgroups.Driver, sb *store.Sandbox) cgroups.ProcessCgroup {
	return cgroups.ProcessCgroup{Driver: driver, Parent: sb.CgroupParent, Name: "cria-pause-" + sb.ID[:12]}
}

// teardown releases everything sb holds, in reverse order of setup, and
// records what is done after each step, so that a failure or a crash
// leaves a record that says what a later Stop or Remove must finish. It is
// idempotent. The caller holds the sandbox's lock.
func (s *RuntimeService) teardown(ctx context.Context, sb *store.Sandbox) (*store.Sandbox, error) {
	c := sandboxConfig(sb)
	var errs []error
	if err := killPause(sb); err != nil {
		errs = append(errs, err)
	} else if sb.PauseCgroup != "" {
		if err := pauseCgroup(s.opts.CgroupDriver, sb).Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	networkUp := sb.NetworkUp
	if networkUp {
		if err := s.opts.CNI.Teardown(ctx, cniPod(sb, c), sb.Network); err != nil {
			errs = append(errs, err)
		} else {
			networkUp = false
		}
	}
	pinned := sb.Pinned
	if pinned {
		if err := network.ReleaseNamespaces(network.Namespaces{Net: sb.NetNS, IPC: sb.IPCNS, UTS: sb.UTSNS, PID: sb.PIDNS, User: sb.UserNS}); err != nil {
			errs = append(errs, err)
		} else {
			pinned = false
		}
	}
	if sb.ShmPath != "" && strings.HasPrefix(sb.ShmPath, sb.Dir+"/") {
		if err := unix.Unmount(sb.ShmPath, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", sb.ShmPath, err))
		}
	}
	teardownErr := errors.Join(errs...)
	updated, err := s.sandboxes.Update(sb.ID, func(r *store.Sandbox) error {
		r.State = store.SandboxNotReady
		r.NetworkUp = networkUp
		r.Pinned = pinned
		if !pauseAlive(r) {
			// Forget a pause that is gone; one still alive (kill failed)
			// stays recorded so the next try finds it.
			r.PausePID, r.PauseStart = 0, 0
		}
		if r.StoppedAt == 0 {
			r.StoppedAt = time.Now().UnixNano()
		}
		if teardownErr != nil {
			r.Reason = "teardown incomplete: " + teardownErr.Error()
		} else if strings.HasPrefix(r.Reason, "teardown incomplete") {
			r.Reason = ""
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(teardownErr, err)
	}
	return updated, teardownErr
}

// Recover reconciles every sandbox record with the kernel after a start:
// a RunPodSandbox that a crash interrupted is rolled back; a ready sandbox
// whose namespaces or pause process are gone is shown notready with the
// reason; a failed teardown is retried. Nothing is deleted that was not
// fully explained.
func (s *RuntimeService) Recover(ctx context.Context) {
	log := Logger(ctx)
	for _, c := range s.containers.List() {
		unlock := s.containers.Lock(c.ID)
		if c.Reason == reasonCreating {
			// A CreateContainer that a crash interrupted.
			if err := s.destroyContainer(ctx, c); err != nil {
				log.Warn("rolling back a container whose creation was interrupted", "container_id", c.ID, "error", err)
			} else {
				log.Info("rolled back a container whose creation was interrupted", "container_id", c.ID)
			}
		} else {
			if c.State == store.ContainerCreated {
				c = s.recoverStart(ctx, c)
			}
			s.observe(c)
		}
		unlock()
	}
	s.watchExits()
	for _, sb := range s.sandboxes.List() {
		unlock := s.sandboxes.Lock(sb.ID)
		switch {
		case sb.Reason == reasonCreating:
			// The crash may have come in the middle of any step, before
			// the record said so: releasing namespaces and CNI DEL are
			// idempotent, so always do both.
			sb.Pinned = sb.NetNS != "" || sb.IPCNS != "" || sb.UTSNS != "" || sb.PIDNS != "" || sb.UserNS != ""
			sb.NetworkUp = sb.NetNS != ""
			if _, err := s.teardown(ctx, sb); err != nil {
				log.Warn("rolling back a sandbox whose creation was interrupted", "pod_sandbox_id", sb.ID, "error", err)
				unlock()
				continue
			}
			if err := os.RemoveAll(sb.Dir); err != nil {
				// Something is still mounted there: keep the record, so the
				// next start (or a Remove) finds the sandbox to finish.
				log.Warn("removing the directory of an interrupted sandbox", "pod_sandbox_id", sb.ID, "error", err)
				unlock()
				continue
			}
			if err := s.sandboxes.Delete(sb.ID); err != nil {
				log.Warn("removing the record of an interrupted sandbox", "pod_sandbox_id", sb.ID, "error", err)
			}
			log.Info("rolled back a sandbox whose creation was interrupted", "pod_sandbox_id", sb.ID)
		case sb.State == store.SandboxReady:
			if lost := lostParts(sb); lost != "" {
				s.markBroken(ctx, sb, "lost after restart: "+lost)
			}
		case sb.NetworkUp || sb.Pinned || pauseAlive(sb):
			if _, err := s.teardown(ctx, sb); err != nil {
				log.Warn("retrying the teardown of a stopped sandbox", "pod_sandbox_id", sb.ID, "error", err)
			}
		}
		unlock()
	}
}

// recoverStart settles a created container whose StartContainer a crash
// may have interrupted: if its monitor started it (the exec fifo is gone),
// it is running, or has exited since (observe reads the exit record). A
// container still waiting to start stays created. The caller holds the
// container's lock.
func (s *RuntimeService) recoverStart(ctx context.Context, c *store.Container) *store.Container {
	if !s.startedAlready(c) {
		return c
	}
	updated, err := s.containers.Update(c.ID, func(r *store.Container) error {
		// When exactly is unknown: no later than now.
		r.State, r.StartedAt = store.ContainerRunning, time.Now().UnixNano()
		return nil
	})
	if err != nil {
		Logger(ctx).Warn("settling an interrupted start", "container_id", c.ID, "error", err)
		return c
	}
	Logger(ctx).Info("adopted a container whose start was interrupted", "container_id", c.ID, "pid", updated.Pid)
	return updated
}

// lostParts says what a ready sandbox has lost of what it needs (its
// namespace pins, its pause process), or "".
func lostParts(sb *store.Sandbox) string {
	var lost []string
	for _, p := range []struct{ kind, path string }{{"network", sb.NetNS}, {"ipc", sb.IPCNS}, {"uts", sb.UTSNS}, {"pid", sb.PIDNS}, {"user", sb.UserNS}} {
		if p.path != "" && !network.IsPinned(p.path) {
			lost = append(lost, p.kind+" namespace")
		}
	}
	if sb.PIDMode == "pod" && !pauseAlive(sb) {
		lost = append(lost, "pause process")
	}
	return strings.Join(lost, ", ")
}

// markBroken turns a ready sandbox notready with the reason, and tells
// the kubelet (a STOPPED event for the sandbox), so that it recreates the
// pod. The caller holds the sandbox's lock.
func (s *RuntimeService) markBroken(ctx context.Context, sb *store.Sandbox, why string) {
	if _, err := s.sandboxes.Update(sb.ID, func(r *store.Sandbox) error {
		r.State, r.Reason = store.SandboxNotReady, why
		return nil
	}); err != nil {
		Logger(ctx).Warn("marking a broken sandbox notready", "pod_sandbox_id", sb.ID, "error", err)
		return
	}
	Logger(ctx).Warn("sandbox broken; shown NotReady", "pod_sandbox_id", sb.ID, "reason", why)
	s.emit(sb.ID, sb.ID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
}

// checkSandbox marks sandbox id broken if it is ready and has lost part of
// itself (see lostParts). A sandbox that an RPC holds is left for the next
// check: that RPC changes its state anyway, or the next check sees it.
func (s *RuntimeService) checkSandbox(id string) {
	unlock, ok := s.sandboxes.TryLock(id)
	if !ok {
		return
	}
	defer unlock()
	sb, err := s.sandboxes.Get(id)
	if err != nil || sb.State != store.SandboxReady || sb.Reason == reasonCreating {
		return
	}
	if lost := lostParts(sb); lost != "" {
		s.markBroken(context.Background(), sb, "lost: "+lost)
	}
}

// reasonCreating marks a record whose RunPodSandbox has not finished.
const reasonCreating = "creating"

// sandboxDir is a sandbox's volatile directory.
func (s *RuntimeService) sandboxDir(id string) string {
	return filepath.Join(s.opts.Config.RunRoot, "sandboxes", id)
}
