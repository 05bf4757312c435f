package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/nri/pkg/api"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// createTimeout bounds how long a container's monitor may take to create
// it.
const createTimeout = time.Minute

// createInit has a new monitor create the container c from its spec, as
// `runc create` does: the container's namespaces, cgroups, mounts and init
// are made, and the init waits for StartContainer. c records the monitor
// and the init. The monitor opens c's log beneath logRoot.
func (s *RuntimeService) createInit(c *store.Container, cfg *runtimeapi.ContainerConfig, logRoot string) error {
	helperArgs := []string{"--id", c.ID, "--dir", c.Dir, "--runtime-root", s.opts.Runtime.Root}
	if s.opts.Runtime.Systemd {
		helperArgs = append(helperArgs, "--systemd")
	}
	tty := cfg.GetTty()
	if tty {
		helperArgs = append(helperArgs, "--terminal")
	}
	monPid, pid, err := s.opts.Monitors.Create(wire.Options{
		ID: c.ID, Dir: c.Dir, LogPath: c.LogPath, LogRoot: logRoot, HelperArgs: helperArgs, ExecFifo: s.opts.Runtime.ExecFifo(c.ID),
		Terminal: tty, Stdin: cfg.GetStdin(), StdinOnce: cfg.GetStdinOnce(),
	}, createTimeout)
	if err != nil {
		return err
	}
	return recordProcesses(c, monPid, pid, wire.ProcessStart)
}

// recordProcesses records the monitor's and the init's pids in c with
// their start times (startOf). Without its start time a pid cannot be
// told from a reused one, and every later check would take the container
// for gone and unremovable: a start time that cannot be read is an error,
// and the create is rolled back.
func recordProcesses(c *store.Container, monPid, pid int, startOf func(int) (uint64, error)) error {
	c.MonitorPid, c.Pid = monPid, pid
	var err error
	if c.MonitorStart, err = startOf(monPid); err != nil {
		return fmt.Errorf("the container's monitor (pid %d): %w", monPid, err)
	}
	if c.PidStart, err = startOf(pid); err != nil {
		return fmt.Errorf("the container's init (pid %d): %w", pid, err)
	}
	return nil
}

// StartContainer starts a created container: its monitor lets the waiting
// init run the container's command. A start that fails leaves the
// container exited with reason StartError and the cause in its message.
func (s *RuntimeService) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	defer s.nri.Block()()
	peek, err := s.containers.Get(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	// The sandbox's lock first, as everywhere: no StopPodSandbox runs
	// between the check that it is ready and the start.
	unlockSb := s.sandboxes.Lock(peek.SandboxID)
	defer unlockSb()
	c, unlock, err := s.lockContainer(peek.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.State != store.ContainerCreated {
		return nil, fmt.Errorf("container %s is %s, not created: %w", c.ID, c.State, errdefs.ErrFailedPrecondition)
	}
	sb, err := s.sandboxes.Get(c.SandboxID)
	if err != nil || sb.State != store.SandboxReady {
		return nil, fmt.Errorf("the container's sandbox %s is not ready: %w", c.SandboxID, errdefs.ErrFailedPrecondition)
	}
	nriOn := s.nri.Active()
	var startErr error
	var pod *api.PodSandbox
	var ctr *api.Container
	if nriOn {
		// Described once, for StartContainer and PostStartContainer.
		pod, ctr = nriPod(sb), nriContainer(c, nil)
		if err := s.nri.StartContainer(ctx, pod, ctr); err != nil {
			startErr = fmt.Errorf("an NRI plugin failed StartContainer: %w", err)
		}
	}
	startedAt := time.Now().UnixNano()
	monitorFailed := false
	if startErr == nil {
		startErr = monitor.Start(c.Dir)
		monitorFailed = startErr != nil
	}
	if startErr != nil && s.startedAlready(c) {
		// A start that the daemon's crash cut short got through.
		startErr = nil
	}
	if startErr != nil {
		// Say why in the container's terms, whichever way the monitor
		// failed.
		if monitorFailed {
			if exit := s.exitRecordWithin(c, 2*time.Second); exit != nil {
				startErr = fmt.Errorf("the container's init exited (code %d) before it was started", exit.Code)
			} else if !alive(c.MonitorPid, c.MonitorStart) {
				startErr = fmt.Errorf("the container's monitor is gone: %w", startErr)
			}
		}
		// The init must not wait on for a start that will not come.
		if err := s.endCreated(c); err != nil {
			Logger(ctx).Warn("ending a container that failed to start", "container_id", c.ID, "error", err)
		}
	}
	now := time.Now().UnixNano()
	_, err = s.containers.Update(c.ID, func(r *store.Container) error {
		if startErr != nil {
			r.State, r.Reason, r.Message = store.ContainerExited, "StartError", startErr.Error()
			r.ExitCode, r.FinishedAt = 128, now
			return nil
		}
		r.State, r.StartedAt = store.ContainerRunning, startedAt
		return nil
	})
	if startErr != nil {
		return nil, fmt.Errorf("starting container %s: %w", c.ID, startErr)
	}
	if err != nil {
		return nil, err
	}
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	if c, err := s.containers.Get(c.ID); err == nil {
		s.watchExit(c)
	}
	if nriOn {
		ctr.State, ctr.StartedAt = api.ContainerState_CONTAINER_RUNNING, startedAt
		s.nri.PostStartContainer(ctx, pod, ctr)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// exitRecordWithin returns the exit record of c's init, waiting up to d
// while its monitor lives: a monitor that answers that the init died
// writes the record once it has drained the init's output.
func (s *RuntimeService) exitRecordWithin(c *store.Container, d time.Duration) *wire.Exit {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		exit, _ := monitor.ReadExit(c.Dir)
		if exit != nil || !alive(c.MonitorPid, c.MonitorStart) || time.Now().After(deadline) {
			return exit
		}
	}
}

// startedAlready tells whether the created container c was in fact
// started: its exec fifo is gone and its init, or its exit record, is
// there.
func (s *RuntimeService) startedAlready(c *store.Container) bool {
	if c.MonitorPid == 0 {
		return false
	}
	if _, err := os.Lstat(s.opts.Runtime.ExecFifo(c.ID)); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	if exit, _ := monitor.ReadExit(c.Dir); exit != nil {
		return true
	}
	return alive(c.Pid, c.PidStart) && alive(c.MonitorPid, c.MonitorStart)
}

// endCreated ends the init of a created container, which waits to be
// started, removes what libcontainer made for it, and waits for its
// monitor to record the exit and go. A create still in progress (the
// daemon crashed while its monitor made the container) is let finish
// first, so that what it makes is found. The caller holds the lock.
func (s *RuntimeService) endCreated(c *store.Container) error {
	monPid, monStart := c.MonitorPid, c.MonitorStart
	if monPid == 0 {
		monPid, monStart, _ = wire.ReadPidStart(filepath.Join(c.Dir, wire.MonitorPidFile))
	}
	for deadline := time.Now().Add(createTimeout); c.Pid == 0 && alive(monPid, monStart) && time.Now().Before(deadline); {
		if _, err := os.Stat(filepath.Join(c.Dir, wire.PidFile)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.opts.Runtime.Delete(c.ID); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); alive(monPid, monStart) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
