// A ready sandbox that lost a part of itself (its pause process, a
// namespace pin) becomes notready here, so that the kubelet recreates it.

package cri

import (
	"context"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
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
