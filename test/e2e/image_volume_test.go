package e2e

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

// An image volume (a CRI mount that names an image) is the image's files,
// read-only, optionally one sub path of them; ContainerStatus reports the
// image's id; removing the container releases its layer.
func TestImageVolume(t *testing.T) {
	e := newContainerEnv(t)
	const volRef = "registry.k8s.io/e2e-test-images/data:1"
	e.reg.Push(t, "e2e-test-images/data:1", framework.BuildImage(t, framework.ImageSpec{Files: map[string]framework.File{
		"data/greeting": {Content: []byte("hello from the image\n")},
	}}))
	volID := mustPull(t, e.d, volRef)
	mount := func(sub string) *runtimeapi.Mount {
		return &runtimeapi.Mount{ContainerPath: "/vol", Readonly: true, Image: &runtimeapi.ImageSpec{Image: volRef}, ImageSubPath: sub}
	}
	exec := func(id string, cmd ...string) (string, int32) {
		t.Helper()
		resp, err := e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 10})
		if err != nil {
			t.Fatalf("ExecSync %v: %v", cmd, err)
		}
		return string(resp.Stdout) + string(resp.Stderr), resp.ExitCode
	}

	whole := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sleep", "3600"}
		c.Mounts = []*runtimeapi.Mount{mount("")}
	})
	e.start(t, whole)
	if out, code := exec(whole, "cat", "/vol/data/greeting"); code != 0 || out != "hello from the image\n" {
		t.Errorf("cat /vol/data/greeting = %q, exit %d", out, code)
	}
	if out, code := exec(whole, "/vol/bin/busybox", "true"); code != 0 {
		t.Errorf("running a binary from the image volume: exit %d, %q", code, out)
	}
	if out, code := exec(whole, "touch", "/vol/new"); code == 0 || !strings.Contains(out, "Read-only file system") {
		t.Errorf("writing to the image volume: exit %d, %q; want a read-only file system", code, out)
	}
	var found bool
	for _, m := range e.status(t, whole).Mounts {
		if m.ContainerPath == "/vol" {
			found = true
			if m.GetImage().GetImageRef() != volID || m.GetImage().GetImage() != volRef {
				t.Errorf("status mount image = %v, want ref %s", m.GetImage(), volID)
			}
		}
	}
	if !found {
		t.Errorf("ContainerStatus has no mount at /vol")
	}

	sub := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sleep", "3600"}
		c.Mounts = []*runtimeapi.Mount{mount("data")}
	})
	e.start(t, sub)
	if out, code := exec(sub, "ls", "/vol"); code != 0 || strings.TrimSpace(out) != "greeting" {
		t.Errorf("ls /vol with sub path data = %q, exit %d", out, code)
	}

	for name, tc := range map[string]struct {
		m    *runtimeapi.Mount
		code codes.Code
		want string
	}{
		"writable":          {&runtimeapi.Mount{ContainerPath: "/vol", Image: &runtimeapi.ImageSpec{Image: volRef}}, codes.InvalidArgument, "must be read-only"},
		"missing sub path":  {mount("nope"), codes.InvalidArgument, `image_sub_path "nope" does not exist`},
		"escaping sub path": {mount("../etc"), codes.InvalidArgument, "clean relative path"},
		"image not pulled":  {&runtimeapi.Mount{ContainerPath: "/vol", Readonly: true, Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/absent:1"}}, codes.NotFound, "mounts[0].image"},
	} {
		_, err := e.d.Runtime.CreateContainer(ctxT(t), &runtimeapi.CreateContainerRequest{PodSandboxId: e.pod, SandboxConfig: e.podCfg, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "bad-" + strings.ReplaceAll(name, " ", "-")},
			Image:    &runtimeapi.ImageSpec{Image: busybox}, Command: []string{"true"}, Mounts: []*runtimeapi.Mount{tc.m},
		}})
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CreateContainer error = %v, want %v containing %q", name, err, tc.code, tc.want)
		}
	}

	// Removing the containers releases the volumes' layers: no layer stays
	// mounted.
	for _, id := range []string{whole, sub} {
		if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.d.Runtime.RemoveContainer(ctxT(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, e.d.Config.StorageRoot()) && strings.Contains(l, "/merged") {
			t.Errorf("layer mount left after the containers were removed: %s", l)
		}
	}
}
