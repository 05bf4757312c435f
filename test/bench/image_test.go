package bench

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

func imageDaemon(b *testing.B) (*framework.Registry, *framework.Daemon) {
	reg := framework.StartRegistry(b)
	d := framework.StartDaemon(b, framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io")))
	return reg, d
}

// BenchmarkPull50MB pulls a three-layer image of about 50 MB (busybox, a
// 24 MiB and a 24 MiB random layer) from the local registry, removing it
// between rounds so every round downloads and unpacks everything.
func BenchmarkPull50MB(b *testing.B) {
	reg, d := imageDaemon(b)
	img := framework.BuildImage(b, framework.ImageSpec{Cmd: []string{"sh"}, RandomLayers: []int64{24 << 20, 24 << 20}})
	reg.Push(b, "bench/big:1", img)
	ctx := context.Background()
	spec := &runtimeapi.ImageSpec{Image: "registry.k8s.io/bench/big:1"}
	var samples framework.Samples
	for i := 0; i < b.N; i++ {
		stop := samples.Start()
		if _, err := d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec}); err != nil {
			b.Fatal(err)
		}
		stop()
		if _, err := d.Images.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: spec}); err != nil {
			b.Fatal(err)
		}
	}
	samples.Report(b)
}

// BenchmarkPull50MBReference is the floor for BenchmarkPull50MB in the
// same run: go-containerregistry fetching the same image and decompressing
// every layer into io.Discard, with no store, no unpacking to disk and no
// CRI round trip.
func BenchmarkPull50MBReference(b *testing.B) {
	reg := framework.StartRegistry(b)
	img := framework.BuildImage(b, framework.ImageSpec{Cmd: []string{"sh"}, RandomLayers: []int64{24 << 20, 24 << 20}})
	reg.Push(b, "bench/big:1", img)
	ref, err := name.ParseReference(reg.Host+"/bench/big:1", name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	var samples framework.Samples
	for i := 0; i < b.N; i++ {
		stop := samples.Start()
		got, err := remote.Image(ref)
		if err != nil {
			b.Fatal(err)
		}
		layers, err := got.Layers()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Uncompressed()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
		stop()
	}
	samples.Report(b)
}

// BenchmarkListImages100 lists a store that holds 100 images.
func BenchmarkListImages100(b *testing.B) {
	reg, d := imageDaemon(b)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		ref := fmt.Sprintf("bench/img-%d:1", i)
		reg.Push(b, ref, framework.BuildImage(b, framework.ImageSpec{Cmd: []string{"img", fmt.Sprint(i)}}))
		if _, err := d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/" + ref}}); err != nil {
			b.Fatal(err)
		}
	}
	var samples framework.Samples
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stop := samples.Start()
		resp, err := d.Images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
		stop()
		if err != nil || len(resp.Images) != 100 {
			b.Fatalf("ListImages = %d images, %v", len(resp.GetImages()), err)
		}
	}
	samples.Report(b)
}
