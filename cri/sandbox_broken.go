// A ready sandbox that lost a part of itself (its pause process, a
// namespace pin) becomes notready here, so that the kubelet recreates it.

package cri

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/pidfd"
)

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
	if err != nil || sb.State != store.SandboxReady {
		return
	}
	if lost := lostParts(sb); lost != "" {
		s.markBroken(context.Background(), sb, "lost: "+lost)
	}
}

// checkSandboxes checks every ready sandbox (checkSandbox); only one that
// looks broken is locked and read again.
func (s *RuntimeService) checkSandboxes() {
	for _, sb := range s.sandboxes.ListShared() {
		if sb.State == store.SandboxReady && lostParts(sb) != "" {
			s.checkSandbox(sb.ID)
		}
	}
}

// watchPause has the end of a ready sandbox's pause process, which holds
// the PID namespace of a pod that shares one, noticed as it happens.
func (s *RuntimeService) watchPause(sb *store.Sandbox) {
	if sb.PIDMode != "pod" || sb.PausePID <= 0 {
		return
	}
	id := sb.ID
	cancel, err := pidfd.OnExit(sb.PausePID, func() { s.checkSandbox(id) })
	if err != nil {
		return // WatchExits' sweep notices it
	}
	// Watched after the pid was recorded: if the pause is not the one
	// that started then, it is gone.
	if !pauseAlive(sb) && cancel() {
		go s.checkSandbox(id)
	}
}

// mountsChanged signals each change of the daemon's mount table (a
// namespace pin unmounted among them), at most one every 100 ms: the
// kernel marks /proc/self/mountinfo with POLLPRI when the table changes.
// Nothing is signalled where that cannot be polled.
func mountsChanged(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	go func() {
		defer f.Close()
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
		for ctx.Err() == nil {
			// A bounded wait, so that the loop sees ctx end.
			n, err := unix.Poll(fds, 5000)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			if n == 0 || fds[0].Revents&(unix.POLLPRI|unix.POLLERR) == 0 {
				continue
			}
			// Mounts change in bursts (a container's start makes several):
			// one check after the burst.
			time.Sleep(100 * time.Millisecond)
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}
