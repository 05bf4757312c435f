package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

// cdiSpec defines two devices of class cria.test/device: each adds a
// device node (the host's /dev/null under another name) and a variable,
// and the spec adds one for both.
const cdiSpec = `{
  "cdiVersion": "0.6.0",
  "kind": "cria.test/device",
  "devices": [
    {"name": "one", "containerEdits": {"env": ["CDI_ONE=yes"], "deviceNodes": [{"path": "/dev/cdi-one", "hostPath": "/dev/null"}]}},
    {"name": "two", "containerEdits": {"env": ["CDI_TWO=yes"], "deviceNodes": [{"path": "/dev/cdi-two", "hostPath": "/dev/null"}]}}
  ],
  "containerEdits": {"env": ["CDI_VENDOR=cria"]}
}`

// TestCDIDevices: devices named in cdi_devices and in cdi.k8s.io/
// annotations are injected from the configured spec directories; a device
// that no spec defines fails CreateContainer and leaves nothing.
func TestCDIDevices(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cria-test.json"), []byte(cdiSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newContainerEnvWith(t, []framework.DaemonOption{framework.WithConfig(func(c *config.Config) { c.CDISpecDirs = []string{dir} })})
	out, code := e.runOnce(t, "echo $CDI_ONE $CDI_TWO $CDI_VENDOR; test -c /dev/cdi-one && test -c /dev/cdi-two && echo devices", func(c *runtimeapi.ContainerConfig) {
		c.CDIDevices = []*runtimeapi.CDIDevice{{Name: "cria.test/device=one"}}
		c.Annotations = map[string]string{"cdi.k8s.io/cria-test": "cria.test/device=two"}
	})
	if code != 0 || out != "stdout F yes yes cria|stdout F devices" {
		t.Errorf("exit %d, output %q; want both devices' variables and nodes", code, out)
	}

	before, _ := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{})
	_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: "unknown-device"},
		Image:      &runtimeapi.ImageSpec{Image: busybox},
		CDIDevices: []*runtimeapi.CDIDevice{{Name: "cria.test/device=three"}},
	}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "cria.test/device=three") {
		t.Errorf("CreateContainer with an unknown CDI device: %v, want InvalidArgument naming it", err)
	}
	after, _ := e.d.Runtime.ListContainers(ctxT(t), &runtimeapi.ListContainersRequest{})
	if len(after.GetContainers()) != len(before.GetContainers()) {
		t.Errorf("the refused create left a container: %v", after.GetContainers())
	}
}
