package cri

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
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
	for _, listed := range s.containers.ListGroup(sandboxID) {
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
