// A sandbox goes notready here (StopPodSandbox, and RemovePodSandbox of
// one not stopped yet): its pause process is ended, its network detached
// and its namespace pins and mounts released, each step recorded so that
// one interrupted is finished by the next attempt.

package cri

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
)

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
