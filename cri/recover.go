// After a start, Recover reconciles the records with the kernel: what a
// crash interrupted half way (a RunPodSandbox, a CreateContainer, a
// teardown) is finished or rolled back, and what is gone is shown so.

package cri

import (
	"context"
	"os"
	"time"

	"github.com/cria-runtime/cria/cri/store"
)

// Recover reconciles every sandbox record with the kernel after a start:
// a RunPodSandbox that a crash interrupted is rolled back; a ready sandbox
// whose namespaces or pause process are gone is shown notready with the
// reason; a failed teardown is retried. Nothing is deleted that was not
// fully explained.
func (s *RuntimeService) Recover(ctx context.Context) {
	log := Logger(ctx)
	for _, c := range s.containers.List() {
		unlock := s.containers.Lock(c.ID)
		if c.State == store.ContainerCreating || c.Reason == legacyCreating {
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
		case sb.State == store.SandboxCreating || sb.Reason == legacyCreating:
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
			} else {
				s.watchPause(sb)
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

// legacyCreating is how records written before the creating state marked
// one being made (state created or notready with this reason).
const legacyCreating = "creating"
