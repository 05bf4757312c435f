package cri

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/image"
)

func TestImageName(t *testing.T) {
	const id = "sha256:4da8944745a869fcc0b7f41178c5fb28db39003a971f8eac421b5ebad67fc375"
	img := &image.Image{ID: id, RepoTags: []string{"registry.k8s.io/e2e-test-images/agnhost:2.55", "registry.k8s.io/e2e-test-images/agnhost:2.66.1"}}
	untagged := &image.Image{ID: id}
	for _, c := range []struct {
		name string
		spec *runtimeapi.ImageSpec
		img  *image.Image
		want string
	}{
		// The kubelet's way: the id it resolved, and the pod spec's name.
		{"id and the user's name", &runtimeapi.ImageSpec{Image: id, UserSpecifiedImage: "registry.k8s.io/e2e-test-images/agnhost:2.66.1"}, img,
			"registry.k8s.io/e2e-test-images/agnhost:2.66.1"},
		{"a name", &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e-test-images/agnhost:2.66.1"}, img, "registry.k8s.io/e2e-test-images/agnhost:2.66.1"},
		{"an id: its first tag", &runtimeapi.ImageSpec{Image: id}, img, "registry.k8s.io/e2e-test-images/agnhost:2.55"},
		{"an id without sha256:", &runtimeapi.ImageSpec{Image: id[len("sha256:"):]}, img, "registry.k8s.io/e2e-test-images/agnhost:2.55"},
		{"an id of an untagged image", &runtimeapi.ImageSpec{Image: id}, untagged, id},
	} {
		if got := imageName(c.spec, c.img); got != c.want {
			t.Errorf("%s: imageName = %q, want %q", c.name, got, c.want)
		}
	}
}
