package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCheckpointContainer(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
	e.start(t, id)
	dir := e.d.Config.CheckpointDir
	os.MkdirAll(dir, 0o700)
	existing := filepath.Join(dir, "exists.tar")
	os.WriteFile(existing, nil, 0o600)
	checkpoint := func(loc string) error {
		_, err := e.d.Runtime.CheckpointContainer(ctxT(t), &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: loc})
		return err
	}
	if err := checkpoint("relative.tar"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("relative location: %v, want InvalidArgument", err)
	}
	if err := checkpoint(filepath.Join(t.TempDir(), "elsewhere.tar")); status.Code(err) != codes.InvalidArgument {
		t.Errorf("location outside the checkpoint directory: %v, want InvalidArgument", err)
	}
	if err := checkpoint(filepath.Join(dir, "sub", "c.tar")); status.Code(err) != codes.InvalidArgument {
		t.Errorf("location below the checkpoint directory: %v, want InvalidArgument", err)
	}
	if _, err := e.d.Runtime.CheckpointContainer(ctxT(t), &runtimeapi.CheckpointContainerRequest{ContainerId: "no-such-container", Location: "relative.tar"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown container: %v, want NotFound before the location is looked at", err)
	}
	if err := checkpoint(existing); status.Code(err) != codes.AlreadyExists {
		t.Errorf("existing location: %v, want AlreadyExists", err)
	}
	err := checkpoint(filepath.Join(dir, "c.tar"))
	if _, lookErr := exec.LookPath("criu"); lookErr != nil {
		// This machine (and CI) has no criu: the answer says what is missing.
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu is not installed") {
			t.Errorf("checkpoint without criu: %v, want FailedPrecondition naming criu", err)
		}
		return
	}
	// With criu, either it works here or `criu check` says why not.
	if err != nil && (status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check")) {
		t.Errorf("checkpoint with criu: %v", err)
	}
	if err == nil {
		if fi, statErr := os.Stat(filepath.Join(dir, "c.tar")); statErr != nil || fi.Size() == 0 {
			t.Errorf("checkpoint archive: %v", statErr)
		}
		if st := e.status(t, id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("container %v after checkpoint, want it left running", st.State)
		}
	}
}
