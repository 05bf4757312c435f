package conformance

import (
	"os"
	"testing"

	"github.com/cria-runtime/cria/test/framework"
)

// mirroredHosts are the registry hosts critest pulls from. The daemon's
// registries.conf sends each of them to the local registry, where every
// image is stored under the same repository path and tag.
var mirroredHosts = []string{"registry.k8s.io", "k8s.gcr.io", "gcr.io", "public.ecr.aws"}

// critestImage is one substitute image: the references critest uses for
// it (without the registry host) and how it is built.
type critestImage struct {
	refs []string
	spec func(tools map[string]framework.File) framework.ImageSpec
}

// critestImages reproduces what critest's tests observe of each image it
// uses (see critest-images.md in the design documents). Every image carries
// a label with its first reference, so that no two of them share an id
// unless critest needs them to.
var critestImages = []critestImage{
	{refs: []string{"e2e-test-images/busybox:1.29-2"}, spec: plain},
	{refs: []string{"e2e-test-images/nginx:1.14-2"}, spec: func(tools map[string]framework.File) framework.ImageSpec {
		return framework.ImageSpec{Entrypoint: []string{"/usr/sbin/nginx"}, Files: with(tools, "usr/sbin/nginx", 0o755)}
	}},
	{refs: []string{"k8s-staging-cri-tools/hostnet-nginx-amd64:latest"}, spec: func(tools map[string]framework.File) framework.ImageSpec {
		return framework.ImageSpec{Entrypoint: []string{"/usr/sbin/nginx", "-listen", ":12003"}, Files: with(tools, "usr/sbin/nginx", 0o755)}
	}},
	{refs: []string{"e2e-test-images/httpd:2.4.39-4"}, spec: func(tools map[string]framework.File) framework.ImageSpec {
		return framework.ImageSpec{Entrypoint: []string{"/usr/local/bin/httpd"}, Files: with(tools, "usr/local/bin/httpd", 0o755)}
	}},
	{refs: []string{"e2e-test-images/nonewprivs:1.3"}, spec: func(tools map[string]framework.File) framework.ImageSpec {
		// Setuid root: it reports uid 0 unless no_new_privs is set.
		return framework.ImageSpec{Entrypoint: []string{"/usr/local/bin/nonewprivs"}, Files: with(tools, "usr/local/bin/nonewprivs", 0o4755)}
	}},
	// One image under two registry hosts: the same path on the mirror.
	{refs: []string{"pause:3.9"}, spec: func(tools map[string]framework.File) framework.ImageSpec {
		return framework.ImageSpec{Entrypoint: []string{"/pause"}, Files: with(tools, "pause", 0o755)}
	}},
	{refs: []string{"k8s-staging-cri-tools/test-image-user-uid:latest"}, spec: user("1002")},
	{refs: []string{"k8s-staging-cri-tools/test-image-user-username:latest"}, spec: user("www-data")},
	{refs: []string{"k8s-staging-cri-tools/test-image-user-uid-group:latest"}, spec: user("1003:1004")},
	{refs: []string{"k8s-staging-cri-tools/test-image-user-username-group:latest"}, spec: user("www-data:1004")},
	{refs: []string{"k8s-staging-cri-tools/test-image-predefined-group:latest"}, spec: func(tools map[string]framework.File) framework.ImageSpec {
		return framework.ImageSpec{
			User:   "1000",
			Passwd: framework.DefaultPasswd + "default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n",
			Group:  framework.DefaultGroup + "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n",
			Files:  tools,
		}
	}},
	{refs: []string{"k8s-staging-cri-tools/test-image-latest:latest"}, spec: plain},
	{refs: []string{"k8s-staging-cri-tools/test-image-tag:test"}, spec: plain},
	{refs: []string{"k8s-staging-cri-tools/test-image-tag:all"}, spec: plain},
	{refs: []string{"k8s-staging-cri-tools/test-image-1:latest"}, spec: plain},
	{refs: []string{"k8s-staging-cri-tools/test-image-2:latest"}, spec: plain},
	{refs: []string{"k8s-staging-cri-tools/test-image-3:latest"}, spec: plain},
	{refs: []string{"k8s-staging-cri-tools/test-image-tags:1", "k8s-staging-cri-tools/test-image-tags:2", "k8s-staging-cri-tools/test-image-tags:3"}, spec: plain},
	// The benchmarks' images (public.ecr.aws).
	{refs: []string{"docker/library/busybox:1.35.0-glibc"}, spec: plain},
	{refs: []string{"docker/library/busybox:1-uclibc"}, spec: plain},
	{refs: []string{"docker/library/busybox:1"}, spec: plain},
	{refs: []string{"docker/library/busybox:1-glibc"}, spec: plain},
	{refs: []string{"docker/library/busybox:1-musl"}, spec: plain},
}

func plain(tools map[string]framework.File) framework.ImageSpec {
	return framework.ImageSpec{Files: tools}
}

func user(u string) func(map[string]framework.File) framework.ImageSpec {
	return func(tools map[string]framework.File) framework.ImageSpec {
		return framework.ImageSpec{User: u, Files: tools}
	}
}

// with returns tools plus the test binary once more at path, as a regular
// file with mode: the name it is run by picks its program, and a process's
// name (what pidof sees) comes from that path.
func with(tools map[string]framework.File, path string, mode int64) map[string]framework.File {
	files := map[string]framework.File{}
	for k, v := range tools {
		files[k] = v
	}
	files[path] = framework.File{Content: tools["bin/testbin"].Content, Mode: mode}
	return files
}

// pushCritestImages builds the substitutes and pushes each under its
// references to reg.
func pushCritestImages(t testing.TB, reg *framework.Registry) {
	t.Helper()
	bin := framework.BuildStatic(t, "./testbin")
	// busybox-static lacks pgrep and ipcs, which critest execs.
	tools := map[string]framework.File{
		"bin/testbin":   {Content: bin, Mode: 0o755},
		"usr/bin/pgrep": {Link: "/bin/testbin"},
		"usr/bin/ipcs":  {Link: "/bin/testbin"},
	}
	busybox := os.Getenv("CONFORMANCE_BUSYBOX")
	if busybox == "" {
		t.Fatal("$CONFORMANCE_BUSYBOX must name Debian's dynamically linked busybox (package busybox); `make conformance` fetches it into bin/")
	}
	for _, ci := range critestImages {
		spec := ci.spec(tools)
		// Debian's busybox-static runs applets inside its shell without
		// exec'ing them, so a masked /bin/ls would still run; the dynamic
		// build execs them, as critest's MaskedPaths spec requires.
		spec.Busybox = busybox
		spec.Labels = map[string]string{"org.cria.test.substitute-for": ci.refs[0]}
		img := framework.BuildImage(t, spec)
		for _, ref := range ci.refs {
			reg.Push(t, ref, img)
		}
	}
}
