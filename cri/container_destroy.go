// A container that is exited or was never started is destroyed here: its
// runtime state, root filesystem, run directory and record go.

package cri

import (
	"context"
	"os"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
)

// destroyContainer kills what is left and releases everything a container
// holds, then deletes its record. Idempotent. The caller holds the lock.
func (s *RuntimeService) destroyContainer(ctx context.Context, c *store.Container) error {
	switch c.State {
	case store.ContainerRunning:
		var err error
		if c, err = s.stopContainer(ctx, c, 0); err != nil {
			return err
		}
	case store.ContainerCreating, store.ContainerCreated:
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
	s.statuses.forget(c.ID)
	s.listed.forget(c.ID)
	s.emit(c.ID, c.SandboxID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	return nil
}
