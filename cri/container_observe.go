// A running container becomes exited here. Its monitor writes an exit
// record and ends; observe turns that (or the monitor's absence) into the
// record's exited state, its reason and its STOPPED event.
// currentContainer is the read path that does so without waiting for an
// operation in progress; container_exit.go has it happen as soon as the
// monitor ends.

package cri

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// alive tells whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	got, err := wire.ProcessStart(pid)
	return err == nil && got == start
}

// observe brings a running container's record up to date with what its
// monitor recorded: the exit record, or the monitor's absence. It returns
// c, which it leaves as it is, or the updated record. The caller holds the
// container's lock.
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

// currentContainer returns the container's record brought up to date with
// its monitor (the caller holds no lock of it). It never waits for an
// operation in progress (a StopContainer may hold the lock for its whole
// grace period): then it returns the record as stored, which that
// operation brings up to date when it ends. Reads, the kubelet's relists
// above all, must not stall behind a stop. The record is the store's own
// (Shared), not a copy: callers read it and change nothing of it.
func (s *RuntimeService) currentContainer(id string) (*store.Container, error) {
	c, err := s.containers.Shared(id)
	if err != nil {
		return nil, err
	}
	if s.exitPushed(c.ID) {
		// Its exit is recorded as soon as it happens: the record is
		// up to date.
		return c, nil
	}
	unlock, ok := s.containers.TryLock(c.ID)
	if !ok {
		return c, nil
	}
	defer unlock()
	// Read again under the lock: it may have changed or gone meanwhile.
	if c, err = s.containers.Shared(c.ID); err != nil {
		return nil, err
	}
	return s.observe(c), nil
}
