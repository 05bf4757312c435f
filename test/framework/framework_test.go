package framework

import (
	"archive/tar"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestMain(m *testing.M) { Main(m) }

func TestNetworkNamespaceHasOnlyLoopback(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		t.Fatalf("interfaces = %+v, want only lo, up", ifs)
	}
}

func TestRegistryServesBuiltImage(t *testing.T) {
	reg := StartRegistry(t)
	img := BuildImage(t, ImageSpec{User: "1002", Cmd: []string{"sleep", "3600"}, Files: map[string]File{
		"etc/motd":     {Content: []byte("hi\n")},
		"usr/bin/link": {Link: "/bin/busybox"},
	}})
	want := reg.Push(t, "e2e-test-images/busybox:1.29-2", img)

	ref, err := name.ParseReference(reg.Host+"/e2e-test-images/busybox:1.29-2", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pulling back: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("digest = %v, want %v", d, want)
	}
	cfg, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "1002" || cfg.OS != "linux" || len(cfg.Config.Cmd) != 2 {
		t.Errorf("config = %+v, want user 1002, linux, cmd sleep 3600", cfg.Config)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers = %d (%v), want 2", len(layers), err)
	}
	// The base layer holds busybox and its applets as hard links.
	entries := tarEntries(t, layers[0])
	if h := entries["bin/busybox"]; h == nil || h.Size < 100000 {
		t.Errorf("bin/busybox missing or small: %+v", h)
	}
	for _, applet := range []string{"bin/sh", "bin/sleep", "bin/cat", "bin/id"} {
		if h := entries[applet]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "bin/busybox" {
			t.Errorf("%s = %+v, want a hard link to bin/busybox", applet, h)
		}
	}
	files := tarEntries(t, layers[1])
	for _, f := range []string{"etc/passwd", "etc/group", "etc/motd"} {
		if files[f] == nil {
			t.Errorf("%s missing from the files layer", f)
		}
	}
	if h := files["usr/bin/link"]; h == nil || h.Typeflag != tar.TypeSymlink {
		t.Errorf("usr/bin/link = %+v, want a symlink", h)
	}
	// Both layers were fetched exactly once by the pulls above.
	for _, l := range layers {
		d, _ := l.Digest()
		if n := reg.BlobGets(d.String()); n != 1 {
			t.Errorf("blob %s fetched %d times, want 1", d, n)
		}
	}
}

func TestImagesDifferUnlessSpecsMatch(t *testing.T) {
	a, _ := BuildImage(t, ImageSpec{Cmd: []string{"true"}}).Digest()
	b, _ := BuildImage(t, ImageSpec{Cmd: []string{"true"}}).Digest()
	c, _ := BuildImage(t, ImageSpec{Cmd: []string{"false"}}).Digest()
	if a != b {
		t.Errorf("same spec gave different images: %v, %v", a, b)
	}
	if a == c {
		t.Errorf("different specs gave the same image %v", a)
	}
}

func TestRegistryBasicAuth(t *testing.T) {
	reg := StartRegistry(t, WithBasicAuth("alice", "s3cret"))
	reg.Push(t, "private/app:v1", BuildImage(t, ImageSpec{}))
	ref, _ := name.ParseReference(reg.Host+"/private/app:v1", name.Insecure)

	_, err := remote.Image(ref)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous pull: err = %v, want 401", err)
	}
	_, err = remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "wrong"}))
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: err = %v, want 401", err)
	}
	if _, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Errorf("pull with credentials: %v", err)
	}
}

func TestClosedRegistryRefusesConnections(t *testing.T) {
	reg := StartRegistry(t)
	host := reg.Host
	reg.Close()
	if c, err := net.Dial("tcp", host); err == nil {
		c.Close()
		t.Fatalf("dial %s after Close succeeded", host)
	}
}

func tarEntries(t *testing.T, l interface {
	Uncompressed() (io.ReadCloser, error)
}) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}
