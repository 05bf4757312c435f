package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
)

func containerConfig(c *store.Container) *runtimeapi.ContainerConfig {
	cfg := &runtimeapi.ContainerConfig{}
	_ = protojson.Unmarshal(c.Config, cfg) // written by us from a valid message
	return cfg
}

// containerName reserves a container's name within its pod, as the kubelet
// expects: one live container per (name, attempt) in a pod.
func containerName(m *runtimeapi.ContainerMetadata, sb *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%s_%d", m.GetName(), sb.GetName(), sb.GetNamespace(), sb.GetUid(), m.GetAttempt())
}

// logPath joins the pod's log directory and the container's log path,
// refusing a result outside the directory.
func logPath(dir, rel string) (string, error) {
	if dir == "" || rel == "" {
		return "", nil
	}
	if !filepath.IsAbs(dir) {
		return "", invalid("sandbox_config.log_directory %q is not absolute", dir)
	}
	if filepath.IsAbs(rel) {
		return "", invalid("config.log_path %q must be relative to the pod's log directory", rel)
	}
	p := filepath.Join(dir, rel)
	if !strings.HasPrefix(p, filepath.Clean(dir)+"/") {
		return "", invalid("config.log_path %q leaves the pod's log directory", rel)
	}
	return p, nil
}

// eachPodContainer runs fn on each container of the sandbox sandboxID,
// holding that container's lock and with its record read again under it
// (not the copy listed before); one removed meanwhile is skipped. It
// stops at fn's first error. The caller holds the sandbox's lock, so no
// container is added meanwhile.
func (s *RuntimeService) eachPodContainer(sandboxID string, fn func(*store.Container) error) error {
	for _, listed := range s.podContainers(sandboxID) {
		c, unlock, err := s.lockContainer(listed.ID)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		err = fn(c)
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// alive tells whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := processStart(pid)
	return err == nil && got == start
}

// observe brings a running container's record up to date with what its
// monitor recorded: the exit record, or the monitor's absence. The caller
// holds the container's lock.
func (s *RuntimeService) observe(c *store.Container) *store.Container {
	if c.State != store.ContainerRunning {
		return c
	}
	exit, err := monitor.ReadExit(c.Dir)
	if err != nil {
		Logger(context.Background()).Warn("reading an exit record", "container_id", c.ID, "error", err)
	}
	if exit == nil && alive(c.MonitorPid, c.MonitorStart) {
		return c
	}
	if exit == nil {
		// The monitor may have written it just now.
		exit, _ = monitor.ReadExit(c.Dir)
	}
	if c.SharesPID && exit != nil {
		// Its init is dead; what it started lives on in the shared PID
		// namespace unless killed, as containerd's shim does.
		if err := s.opts.Runtime.KillAll(c.ID); err != nil {
			Logger(context.Background()).Warn("killing what an exited container left", "container_id", c.ID, "error", err)
		}
	}
	updated, err := s.containers.Update(c.ID, func(r *store.Container) error {
		r.State = store.ContainerExited
		if exit == nil {
			r.ExitCode, r.Reason = 255, "Unknown"
			r.Message = "the container's monitor is gone and left no exit record (was /run lost?)"
			r.FinishedAt = time.Now().UnixNano()
			return nil
		}
		r.ExitCode, r.FinishedAt = int32(exit.Code), exit.FinishedAt
		switch {
		case s.oomKilled(r.ID):
			r.Reason = "OOMKilled"
		case exit.Code == 0:
			r.Reason = "Completed"
		default:
			r.Reason = "Error"
		}
		return nil
	})
	if err != nil {
		Logger(context.Background()).Warn("recording an exit", "container_id", c.ID, "error", err)
		return c
	}
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	s.nriExited(c.ID)
	return updated
}

func (s *RuntimeService) oomKilled(id string) bool {
	paths, err := s.cgroupPaths(id)
	return err == nil && cgroups.OOMKills(paths) > 0
}

// stopContainer sends the stop signal, waits up to timeout for the exit,
// then kills. A created container's waiting init is ended at once. It
// returns the updated record. The caller holds the lock.
func (s *RuntimeService) stopContainer(ctx context.Context, c *store.Container, timeout time.Duration) (*store.Container, error) {
	c = s.observe(c)
	if c.State == store.ContainerCreated && c.Reason != reasonCreating {
		return s.stopCreated(c)
	}
	if c.State != store.ContainerRunning {
		return c, nil
	}
	sig, _ := parseSignal(c.StopSignal) // checked at create
	if sig == 0 {
		sig = unix.SIGTERM
	}
	if timeout > 0 && alive(c.Pid, c.PidStart) {
		if err := unix.Kill(c.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("signalling container %s: %w", c.ID, err)
		}
		if c = s.waitExit(ctx, c, timeout); c.State != store.ContainerRunning {
			return c, nil
		}
	}
	if alive(c.Pid, c.PidStart) {
		if err := unix.Kill(c.Pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("killing container %s: %w", c.ID, err)
		}
	}
	if c = s.waitExit(ctx, c, 30*time.Second); c.State == store.ContainerRunning {
		return nil, fmt.Errorf("container %s did not exit after SIGKILL", c.ID)
	}
	return c, nil
}

// stopCreated ends a created container that was never started: it exits,
// with the status of its init, which ran nothing of the container's.
func (s *RuntimeService) stopCreated(c *store.Container) (*store.Container, error) {
	if err := s.endCreated(c); err != nil {
		return nil, fmt.Errorf("stopping created container %s: %w", c.ID, err)
	}
	exit, _ := monitor.ReadExit(c.Dir)
	updated, err := s.containers.Update(c.ID, func(r *store.Container) error {
		r.State, r.Reason, r.Message = store.ContainerExited, "Error", "stopped before it was started"
		r.ExitCode, r.FinishedAt = 128+int32(unix.SIGKILL), time.Now().UnixNano()
		if exit != nil {
			r.ExitCode, r.FinishedAt = int32(exit.Code), exit.FinishedAt
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	return updated, nil
}

// waitExit polls for the exit record for up to timeout.
func (s *RuntimeService) waitExit(ctx context.Context, c *store.Container, timeout time.Duration) *store.Container {
	deadline := time.Now().Add(timeout)
	for {
		if c = s.observe(c); c.State != store.ContainerRunning || time.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// destroyContainer kills what is left and releases everything a container
// holds, then deletes its record. Idempotent. The caller holds the lock.
func (s *RuntimeService) destroyContainer(ctx context.Context, c *store.Container) error {
	switch c.State {
	case store.ContainerRunning:
		var err error
		if c, err = s.stopContainer(ctx, c, 0); err != nil {
			return err
		}
	case store.ContainerCreated:
		if err := s.endCreated(c); err != nil {
			return err
		}
	}
	if err := s.opts.Runtime.Delete(c.ID); err != nil {
		return err
	}
	if err := s.opts.Images.RemoveRootfs(c.ID); err != nil {
		return err
	}
	for _, v := range c.ImageVolumes {
		if err := s.opts.Images.RemoveRootfs(v.Layer); err != nil {
			return err
		}
	}
	// A TARGET PID pin that a crash kept from being released.
	if err := network.ReleaseNamespaces(network.Namespaces{PID: targetPIDPin(c)}); err != nil {
		return err
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return err
	}
	if c.VolumesDir != "" {
		if err := os.RemoveAll(c.VolumesDir); err != nil {
			return err
		}
	}
	if err := s.containers.Delete(c.ID); err != nil {
		return err
	}
	s.forgetStats(c.ID)
	s.ctrConfigs.forget(c.ID)
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	return nil
}

// podContainers returns the records of a sandbox's containers.
func (s *RuntimeService) podContainers(sandboxID string) []*store.Container {
	var out []*store.Container
	for _, c := range s.containers.List() {
		if c.SandboxID == sandboxID {
			out = append(out, c)
		}
	}
	return out
}
