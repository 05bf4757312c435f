package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/image"
	"github.com/cria-runtime/cria/test/framework"
)

// mirroredHosts are the registry hosts that image tests reach through the
// local registry, as critest's images do.
var mirroredHosts = []string{"registry.k8s.io", "k8s.gcr.io", "gcr.io", "docker.io", "public.ecr.aws"}

// imageEnv is a local registry and a daemon that reaches it through
// registries.conf mirrors for mirroredHosts.
func imageEnv(t *testing.T, opts ...framework.DaemonOption) (*framework.Registry, *framework.Daemon) {
	t.Helper()
	reg := framework.StartRegistry(t)
	opts = append([]framework.DaemonOption{framework.WithRegistriesConf(reg.MirrorConf(mirroredHosts...))}, opts...)
	return reg, framework.StartDaemon(t, opts...)
}

func pull(t *testing.T, d *framework.Daemon, ref string, auth *runtimeapi.AuthConfig) (string, error) {
	t.Helper()
	resp, err := d.Images.PullImage(ctxT(t), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Auth: auth})
	return resp.GetImageRef(), err
}

func mustPull(t *testing.T, d *framework.Daemon, ref string) string {
	t.Helper()
	id, err := pull(t, d, ref, nil)
	if err != nil {
		t.Fatalf("PullImage(%s): %v", ref, err)
	}
	return id
}

func imageStatus(t *testing.T, d *framework.Daemon, ref string) *runtimeapi.Image {
	t.Helper()
	resp, err := d.Images.ImageStatus(ctxT(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		t.Fatalf("ImageStatus(%s): %v", ref, err)
	}
	return resp.Image
}

func listImages(t *testing.T, d *framework.Daemon) []*runtimeapi.Image {
	t.Helper()
	resp, err := d.Images.ListImages(ctxT(t), &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Images
}

func configDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	n, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return n.String()
}

func TestPullByTagDigestAndWithoutTag(t *testing.T) {
	reg, d := imageEnv(t)
	img := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"sh"}})
	manifest := reg.Push(t, "e2e-test-images/busybox:1.29-2", img)
	reg.Push(t, "k8s-staging-cri-tools/test-image-latest:latest", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"true"}}))
	digestImg := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"digest"}})
	digestManifest := reg.Push(t, "k8s-staging-cri-tools/test-image-digest:unused", digestImg)

	t.Run("by tag", func(t *testing.T) {
		const ref = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
		id := mustPull(t, d, ref)
		if want := configDigest(t, img); id != want {
			t.Errorf("image ref = %q, want the config digest %q", id, want)
		}
		st := imageStatus(t, d, ref)
		if st == nil {
			t.Fatal("no status after pull")
		}
		// containers/image's blob cache is cria's, under its root, not the
		// host's /var/lib/containers/cache.
		if _, err := os.Stat(filepath.Join(d.Config.StorageRoot(), image.BlobInfoCacheDir, "blob-info-cache-v1.sqlite")); err != nil {
			t.Errorf("the blob info cache is not under the storage root: %v", err)
		}
		if !reflect.DeepEqual(st.RepoTags, []string{ref}) {
			t.Errorf("repo tags = %v", st.RepoTags)
		}
		if want := []string{"registry.k8s.io/e2e-test-images/busybox@" + manifest.String()}; !reflect.DeepEqual(st.RepoDigests, want) {
			t.Errorf("repo digests = %v, want %v", st.RepoDigests, want)
		}
		if st.Size < 1<<20 {
			t.Errorf("size = %d, want at least busybox's size", st.Size)
		}
		// Every way of naming it gives the same status.
		for _, name := range []string{id, strings.TrimPrefix(id, "sha256:"), id[:19], st.RepoDigests[0]} {
			if got := imageStatus(t, d, name); !proto(got, st) {
				t.Errorf("ImageStatus(%s) = %v, want %v", name, got, st)
			}
		}
	})
	t.Run("by digest", func(t *testing.T) {
		ref := "gcr.io/k8s-staging-cri-tools/test-image-digest@" + digestManifest.String()
		id := mustPull(t, d, ref)
		st := imageStatus(t, d, id)
		if len(st.RepoTags) != 0 {
			t.Errorf("repo tags = %v, want none after a pull by digest", st.RepoTags)
		}
		if !reflect.DeepEqual(st.RepoDigests, []string{ref}) {
			t.Errorf("repo digests = %v, want [%s]", st.RepoDigests, ref)
		}
		if got := imageStatus(t, d, ref); !proto(got, st) {
			t.Errorf("ImageStatus by digest = %v, want %v", got, st)
		}
	})
	t.Run("without tag", func(t *testing.T) {
		mustPull(t, d, "gcr.io/k8s-staging-cri-tools/test-image-latest")
		st := imageStatus(t, d, "gcr.io/k8s-staging-cri-tools/test-image-latest")
		if st == nil || !reflect.DeepEqual(st.RepoTags, []string{"gcr.io/k8s-staging-cri-tools/test-image-latest:latest"}) {
			t.Errorf("status = %v, want repo tag …:latest", st)
		}
	})
	t.Run("short name", func(t *testing.T) {
		reg.Push(t, "library/busybox:latest", img)
		id := mustPull(t, d, "busybox")
		st := imageStatus(t, d, "busybox")
		if st == nil || st.Id != id || !contains(strings.Join(st.RepoTags, ","), "docker.io/library/busybox:latest") {
			t.Errorf("status(busybox) = %v, want docker.io/library/busybox:latest on %s", st, id)
		}
	})
}

// proto compares two CRI images field by field.
func proto(a, b *runtimeapi.Image) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Id == b.Id && reflect.DeepEqual(a.RepoTags, b.RepoTags) && reflect.DeepEqual(a.RepoDigests, b.RepoDigests) &&
		a.Size == b.Size && a.Username == b.Username && a.GetUid().GetValue() == b.GetUid().GetValue()
}

func TestOneImageManyTags(t *testing.T) {
	reg, d := imageEnv(t)
	img := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"tags"}})
	var refs []string
	for _, tag := range []string{"1", "2", "3"} {
		reg.Push(t, "k8s-staging-cri-tools/test-image-tags:"+tag, img)
		refs = append(refs, "gcr.io/k8s-staging-cri-tools/test-image-tags:"+tag)
	}
	// The same image from two registry hosts is one image too.
	reg.Push(t, "pause:3.9", img)
	refs = append(refs, "registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9")
	ids := map[string]bool{}
	for _, r := range refs {
		ids[mustPull(t, d, r)] = true
	}
	if len(ids) != 1 {
		t.Fatalf("pulls gave ids %v, want one", ids)
	}
	imgs := listImages(t, d)
	if len(imgs) != 1 {
		t.Fatalf("ListImages = %d images, want 1", len(imgs))
	}
	got := append([]string(nil), imgs[0].RepoTags...)
	sort.Strings(got)
	want := append([]string(nil), refs...)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("repo tags = %v, want %v", got, want)
	}
	// Removing by one tag removes the image and every tag.
	if _, err := d.Images.RemoveImage(ctxT(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: refs[1]}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if st := imageStatus(t, d, r); st != nil {
			t.Errorf("ImageStatus(%s) after remove = %v, want none", r, st)
		}
	}
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Errorf("ListImages after remove = %v", imgs)
	}
	// Removing what is gone succeeds.
	for _, r := range []string{refs[0], "sha256:" + strings.Repeat("ab", 32), "never/pulled:x"} {
		if _, err := d.Images.RemoveImage(ctxT(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: r}}); err != nil {
			t.Errorf("RemoveImage(%s) of an absent image: %v", r, err)
		}
	}
}

func TestDistinctImagesListFilterAndStream(t *testing.T) {
	reg, d := imageEnv(t)
	var ids []string
	for _, n := range []string{"1", "2", "3"} {
		reg.Push(t, "k8s-staging-cri-tools/test-image-"+n+":latest", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"image", n}}))
		ids = append(ids, mustPull(t, d, "gcr.io/k8s-staging-cri-tools/test-image-"+n+":latest"))
	}
	if imgs := listImages(t, d); len(imgs) != 3 {
		t.Fatalf("ListImages = %d images, want 3", len(imgs))
	}
	for i, ref := range []string{"gcr.io/k8s-staging-cri-tools/test-image-2:latest", ids[2]} {
		resp, err := d.Images.ListImages(ctxT(t), &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: ref}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Images) != 1 || resp.Images[0].Id != ids[i+1] {
			t.Errorf("ListImages(filter %s) = %v, want only %s", ref, resp.Images, ids[i+1])
		}
	}
	resp, err := d.Images.ListImages(ctxT(t), &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "nothing:here"}}})
	if err != nil || len(resp.Images) != 0 {
		t.Errorf("ListImages(filter on an absent image) = %v, %v; want none", resp.GetImages(), err)
	}
	stream, err := d.Images.StreamImages(ctxT(t), &runtimeapi.StreamImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	streamed := map[string]bool{}
	for {
		msg, err := stream.Recv()
		if err != nil {
			break
		}
		for _, img := range msg.Images {
			streamed[img.Id] = true
		}
	}
	if len(streamed) != 3 {
		t.Errorf("StreamImages gave %v, want the 3 images", streamed)
	}
}

func TestImageUser(t *testing.T) {
	reg, d := imageEnv(t)
	for _, tc := range []struct {
		repo, user   string
		uid          int64
		hasUID       bool
		wantUsername string
	}{
		{"test-image-user-uid", "1002", 1002, true, ""},
		{"test-image-user-username", "www-data", 0, false, "www-data"},
		{"test-image-user-uid-group", "1003:1004", 1003, true, ""},
		{"test-image-user-username-group", "www-data:1004", 0, false, "www-data"},
		{"test-image-no-user", "", 0, false, ""},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			reg.Push(t, "k8s-staging-cri-tools/"+tc.repo+":latest", framework.BuildImage(t, framework.ImageSpec{User: tc.user, Cmd: []string{tc.repo}}))
			ref := "gcr.io/k8s-staging-cri-tools/" + tc.repo
			mustPull(t, d, ref)
			st := imageStatus(t, d, ref)
			if (st.Uid != nil) != tc.hasUID || st.GetUid().GetValue() != tc.uid || st.Username != tc.wantUsername {
				t.Errorf("uid = %v, username = %q; want uid %d (set: %v), username %q", st.Uid, st.Username, tc.uid, tc.hasUID, tc.wantUsername)
			}
		})
	}
}

func TestImageStatusVerboseAndPinned(t *testing.T) {
	reg, d := imageEnv(t, framework.WithConfig(func(c *config.Config) { c.Image.PinnedImages = []string{"registry.k8s.io/pause:*"} }))
	img := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"pause"}, Env: []string{"A=b"}, Labels: map[string]string{"l": "v"}})
	reg.Push(t, "pause:3.10", img)
	reg.Push(t, "e2e-test-images/other:1", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"other"}}))
	mustPull(t, d, "registry.k8s.io/pause:3.10")
	mustPull(t, d, "registry.k8s.io/e2e-test-images/other:1")
	if st := imageStatus(t, d, "registry.k8s.io/pause:3.10"); !st.Pinned {
		t.Errorf("pause image not pinned")
	}
	if st := imageStatus(t, d, "registry.k8s.io/e2e-test-images/other:1"); st.Pinned {
		t.Errorf("other image pinned")
	}
	resp, err := d.Images.ImageStatus(ctxT(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/pause:3.10"}, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		ImageSpec struct {
			Config struct {
				Cmd    []string
				Env    []string
				Labels map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatalf("verbose info %q: %v", resp.Info["info"], err)
	}
	if !reflect.DeepEqual(info.ImageSpec.Config.Cmd, []string{"pause"}) || info.ImageSpec.Config.Labels["l"] != "v" {
		t.Errorf("verbose info config = %+v", info.ImageSpec.Config)
	}
	// Unknown images have no status and no error.
	if st := imageStatus(t, d, "registry.k8s.io/none:1"); st != nil {
		t.Errorf("status of an absent image = %v", st)
	}
}

func TestPullMultiArchResolvesThisPlatform(t *testing.T) {
	reg, d := imageEnv(t)
	amd := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"amd64"}})
	armCfg := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"arm64"}})
	cf, _ := armCfg.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	arm, err := mutate.ConfigFile(armCfg, cf)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	listDigest := reg.PushIndex(t, "e2e-test-images/multi:1", idx)
	id := mustPull(t, d, "registry.k8s.io/e2e-test-images/multi:1")
	if want := configDigest(t, amd); id != want {
		t.Errorf("pulled %s, want the amd64 image %s", id, want)
	}
	st := imageStatus(t, d, "registry.k8s.io/e2e-test-images/multi@"+listDigest.String())
	if st == nil || st.Id != id {
		t.Errorf("ImageStatus by the list digest = %v, want %s", st, id)
	}
}

func TestPullErrors(t *testing.T) {
	reg, d := imageEnv(t)
	private := framework.StartRegistry(t, framework.WithBasicAuth("alice", "s3cret"))
	private.Push(t, "team/app:v1", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"private"}}))
	down := framework.StartRegistry(t)
	downHost := down.Host
	down.Close()
	// Both need an insecure entry of their own (plain HTTP), and one
	// blocked registry.
	conf := reg.MirrorConf(mirroredHosts...) +
		"[[registry]]\nlocation = \"" + private.Host + "\"\ninsecure = true\n\n" +
		"[[registry]]\nlocation = \"" + downHost + "\"\ninsecure = true\n\n" +
		"[[registry]]\nlocation = \"blocked.example\"\nblocked = true\n"
	if err := os.WriteFile(d.Config.Image.RegistriesConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		ref        string
		auth       *runtimeapi.AuthConfig
		wantCode   codes.Code
		wantPrefix string // message prefix the kubelet matches on
		wantText   string
	}{
		{name: "malformed reference", ref: "UPPER/Case:x", wantCode: codes.InvalidArgument, wantText: "invalid image reference"},
		{name: "empty reference", ref: "", wantCode: codes.InvalidArgument},
		{name: "no credentials", ref: private.Host + "/team/app:v1", wantCode: codes.Unauthenticated},
		{name: "wrong credentials", ref: private.Host + "/team/app:v1", auth: &runtimeapi.AuthConfig{Username: "alice", Password: "nope"}, wantCode: codes.Unauthenticated},
		{name: "bad auth field", ref: private.Host + "/team/app:v1", auth: &runtimeapi.AuthConfig{Auth: "%%%"}, wantCode: codes.InvalidArgument},
		{name: "registry down", ref: downHost + "/team/app:v1", wantCode: codes.Unknown, wantPrefix: "RegistryUnavailable"},
		{name: "not found", ref: reg.Host + "/e2e-test-images/missing:1", wantCode: codes.NotFound},
		{name: "blocked registry", ref: "blocked.example/app:1", wantCode: codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pull(t, d, tc.ref, tc.auth)
			st := status.Convert(err)
			if st.Code() != tc.wantCode || !strings.HasPrefix(st.Message(), tc.wantPrefix) || !strings.Contains(st.Message(), tc.wantText) {
				t.Errorf("PullImage(%q) = %v; want code %v, message starting %q containing %q", tc.ref, err, tc.wantCode, tc.wantPrefix, tc.wantText)
			}
		})
	}
	t.Run("right credentials", func(t *testing.T) {
		for _, auth := range []*runtimeapi.AuthConfig{
			{Username: "alice", Password: "s3cret"},
			{Auth: base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))},
		} {
			if _, err := pull(t, d, private.Host+"/team/app:v1", auth); err != nil {
				t.Errorf("pull with %+v: %v", auth, err)
			}
		}
	})
	// Nothing failed half way into the store.
	if imgs := listImages(t, d); len(imgs) != 1 {
		t.Errorf("images after the failures = %d, want only the private one", len(imgs))
	}
}

func TestConcurrentPullsShareOneDownload(t *testing.T) {
	reg, d := imageEnv(t)
	img := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"shared"}, RandomLayers: []int64{4 << 20}})
	reg.Push(t, "e2e-test-images/shared:1", img)
	reg.ThrottleBlobs(8 << 20) // slow enough that the pulls overlap
	var wg sync.WaitGroup
	ids := make([]string, 10)
	errs := make([]error, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = pull(t, d, "registry.k8s.io/e2e-test-images/shared:1", nil)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("pull %d = %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		dg, _ := l.Digest()
		if n := reg.BlobGets(dg.String()); n != 1 {
			t.Errorf("layer %s downloaded %d times, want once", dg, n)
		}
	}
}

// Removing one image from many callers at once succeeds for every one of
// them, and the image is gone.
func TestConcurrentRemovesAllSucceed(t *testing.T) {
	reg, d := imageEnv(t)
	reg.Push(t, "e2e-test-images/removed:1", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"removed"}}))
	for round := range 5 {
		id := mustPull(t, d, "registry.k8s.io/e2e-test-images/removed:1")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = d.Images.RemoveImage(ctxT(t), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: id}})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: RemoveImage %d: %v", round, i, err)
			}
		}
		if st, err := d.Images.ImageStatus(ctxT(t), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: id}}); err != nil || st.Image != nil {
			t.Errorf("round %d: image still there after removal: %v, %v", round, st.GetImage(), err)
		}
	}
}

func TestStalledPullIsCancelledAndLeavesNothing(t *testing.T) {
	reg, d := imageEnv(t, framework.WithConfig(func(c *config.Config) { c.Image.PullProgressTimeout = "2s" }))
	reg.Push(t, "e2e-test-images/stall:1", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"stall"}, RandomLayers: []int64{1 << 20}}))
	reg.ThrottleBlobs(-1)
	start := time.Now()
	_, err := pull(t, d, "registry.k8s.io/e2e-test-images/stall:1", nil)
	if st := status.Convert(err); !strings.HasPrefix(st.Message(), "RegistryUnavailable") || !contains(st.Message(), "no progress") {
		t.Fatalf("stalled pull = %v; want RegistryUnavailable … no progress", err)
	}
	if el := time.Since(start); el > time.Minute {
		t.Errorf("stalled pull took %v to give up with a 2s progress timeout", el)
	}
	assertStoreEmpty(t, d)
	// With the registry healthy again the same pull succeeds.
	reg.ThrottleBlobs(0)
	mustPull(t, d, "registry.k8s.io/e2e-test-images/stall:1")
}

func TestPullKilledHalfWayLeavesCleanStore(t *testing.T) {
	reg, d := imageEnv(t)
	img := framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"big"}, RandomLayers: []int64{256 << 10, 8 << 20}})
	reg.Push(t, "e2e-test-images/big:1", img)
	layers, _ := img.Layers()
	big, _ := layers[len(layers)-1].Digest()
	reg.ThrottleBlobs(1 << 20) // ~8 s for the big layer

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/e2e-test-images/big:1"}})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for reg.BlobGets(big.String()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the pull never started downloading the big layer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Part of the way through: kill once some layer is committed (the big
	// one is still downloading), however loaded the machine is. A layer
	// still being written is flagged incomplete, and the store itself
	// drops those when it opens; only complete ones are cria's to remove.
	complete := func() int {
		n := 0
		for _, l := range storeLayers(t, d) {
			if flags, _ := l["flags"].(map[string]any); flags["incomplete"] != true {
				n++
			}
		}
		return n
	}
	for complete() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no layer of the pull was committed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.Kill()
	d.Start()

	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Errorf("images after a pull killed half way = %v, want none", imgs)
	}
	// The layers fetched before the kill were committed to the store, and
	// the restarted daemon removed them.
	if !strings.Contains(d.Log(), "removed unused layer") {
		t.Errorf("the restarted daemon removed no layer of the interrupted pull:\n%s", d.Log())
	}
	assertStoreEmpty(t, d)
	reg.ThrottleBlobs(0)
	id := mustPull(t, d, "registry.k8s.io/e2e-test-images/big:1")
	if st := imageStatus(t, d, id); st == nil {
		t.Fatal("re-pulled image has no status")
	}
}

// storeLayers reads the layers the store holds.
func storeLayers(t *testing.T, d *framework.Daemon) []map[string]any {
	t.Helper()
	var layers []map[string]any
	b, err := os.ReadFile(filepath.Join(d.Config.Root, d.Config.Image.StorageRoot, "overlay-layers", "layers.json"))
	if err == nil && len(b) > 0 {
		if err := json.Unmarshal(b, &layers); err != nil {
			t.Fatalf("layers.json: %v", err)
		}
	}
	return layers
}

// assertStoreEmpty checks that the store holds no image, no layer and no
// temporary pull file.
func assertStoreEmpty(t *testing.T, d *framework.Daemon) {
	t.Helper()
	if imgs := listImages(t, d); len(imgs) != 0 {
		t.Errorf("images = %v, want none", imgs)
	}
	root := filepath.Join(d.Config.Root, d.Config.Image.StorageRoot)
	if layers := storeLayers(t, d); len(layers) != 0 {
		t.Errorf("store holds %d layers, want none: %v", len(layers), layers)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "cria-tmp")); len(entries) != 0 {
		t.Errorf("pull temporary files left: %v", entries)
	}
}

func TestImageFsInfo(t *testing.T) {
	reg, d := imageEnv(t)
	fsinfo := func() *runtimeapi.FilesystemUsage {
		resp, err := d.Images.ImageFsInfo(ctxT(t), &runtimeapi.ImageFsInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.ImageFilesystems) != 1 || len(resp.ContainerFilesystems) != 1 {
			t.Fatalf("ImageFsInfo = %v, want one image and one container filesystem", resp)
		}
		return resp.ImageFilesystems[0]
	}
	before := fsinfo()
	if before.FsId.GetMountpoint() != filepath.Join(d.Config.Root, "storage") || before.Timestamp == 0 || before.InodesUsed.GetValue() == 0 {
		t.Errorf("ImageFsInfo = %v", before)
	}
	reg.Push(t, "e2e-test-images/fs:1", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"fs"}, RandomLayers: []int64{3 << 20}}))
	mustPull(t, d, "registry.k8s.io/e2e-test-images/fs:1")
	// Answered from the last measurement, which a call renews in the
	// background once it is 5 s old.
	deadline := time.Now().Add(20 * time.Second)
	after := fsinfo()
	for after.UsedBytes.GetValue() < before.UsedBytes.GetValue()+3<<20 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		after = fsinfo()
	}
	if after.UsedBytes.GetValue() < before.UsedBytes.GetValue()+3<<20 {
		t.Errorf("used bytes %d → %d after pulling 3 MiB+", before.UsedBytes.GetValue(), after.UsedBytes.GetValue())
	}
	if after.Timestamp <= before.Timestamp {
		t.Errorf("measured at %d, then at %d", before.Timestamp, after.Timestamp)
	}
}

func TestCrictlImages(t *testing.T) {
	reg, d := imageEnv(t)
	reg.Push(t, "library/busybox:latest", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"sh"}}))
	out := d.Crictl(t, "pull", "busybox")
	if !strings.Contains(out, "Image is up to date for sha256:") {
		t.Errorf("crictl pull: %q", out)
	}
	if out := d.Crictl(t, "images"); !strings.Contains(out, "docker.io/library/busybox") || !strings.Contains(out, "latest") {
		t.Errorf("crictl images:\n%s", out)
	}
	if out := d.Crictl(t, "inspecti", "busybox"); !strings.Contains(out, `"docker.io/library/busybox:latest"`) || !strings.Contains(out, `"imageSpec"`) {
		t.Errorf("crictl inspecti:\n%s", out)
	}
	if out := d.Crictl(t, "imagefsinfo"); !strings.Contains(out, "usedBytes") {
		t.Errorf("crictl imagefsinfo:\n%s", out)
	}
	d.Crictl(t, "rmi", "busybox")
	if out := d.Crictl(t, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("crictl images after rmi: %q", out)
	}
}

func TestRegistriesConfMissingThenAdded(t *testing.T) {
	reg := framework.StartRegistry(t)
	reg.Push(t, "e2e-test-images/late:1", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"late"}}))
	d := framework.StartDaemon(t) // no registries.conf at all
	const ref = "registry.k8s.io/e2e-test-images/late:1"
	_, err := pull(t, d, ref, nil)
	if msg := status.Convert(err).Message(); err == nil || strings.Contains(msg, "registries configuration") || !strings.HasPrefix(msg, "RegistryUnavailable") {
		t.Fatalf("pull with no registries.conf and no network = %v; want RegistryUnavailable from the registry, not a config error", err)
	}
	// A mirror configured while the daemon runs applies to the next pull.
	if err := os.WriteFile(d.Config.Image.RegistriesConf, []byte(reg.MirrorConf("registry.k8s.io")), 0o600); err != nil {
		t.Fatal(err)
	}
	mustPull(t, d, ref)
}
