package image

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestNormalize(t *testing.T) {
	const dig = "sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf"
	for _, tc := range []struct {
		in, want string
		invalid  bool
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "library/busybox", want: "docker.io/library/busybox:latest"},
		{in: "docker.io/busybox", want: "docker.io/library/busybox:latest"},
		{in: "quay.io/coreos/etcd", want: "quay.io/coreos/etcd:latest"},
		{in: "registry.k8s.io/e2e-test-images/busybox:1.29-2", want: "registry.k8s.io/e2e-test-images/busybox:1.29-2"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest"},
		{in: "127.0.0.1:5000/a/b:v1", want: "127.0.0.1:5000/a/b:v1"},
		{in: "gcr.io/x/img@" + dig, want: "gcr.io/x/img@" + dig},
		{in: "gcr.io/x/img:tag@" + dig, want: "gcr.io/x/img:tag@" + dig},
		{in: "", invalid: true},
		{in: "UPPER/case", invalid: true},
		{in: "busybox:", invalid: true},
		{in: "a b", invalid: true},
		{in: "busybox@sha256:abc", invalid: true},
		{in: "9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf", invalid: true},
		{in: "localhost:99999/app", invalid: true},
		{in: "localhost:0/app", invalid: true},
		{in: "localhost:65535/app", want: "localhost:65535/app:latest"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.invalid {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("Normalize(%q) = %v, %v; want ErrInvalidArgument", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q): %v", tc.in, err)
			}
			if got.String() != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got.String(), tc.want)
			}
		})
	}
}

func TestUserOf(t *testing.T) {
	i := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		user         string
		wantUID      *int64
		wantUsername string
	}{
		{"", nil, ""},
		{"0", i(0), ""},
		{"1002", i(1002), ""},
		{"www-data", nil, "www-data"},
		{"1003:1004", i(1003), ""},
		{"www-data:1004", nil, "www-data"},
		{"nobody:nogroup", nil, "nobody"},
	} {
		uid, name := userOf(tc.user)
		if !reflect.DeepEqual(uid, tc.wantUID) || name != tc.wantUsername {
			t.Errorf("userOf(%q) = %v, %q; want %v, %q", tc.user, deref(uid), name, deref(tc.wantUID), tc.wantUsername)
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestRepoTagsAndDigests(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	for _, tc := range []struct {
		name        string
		names       []string
		digests     []string
		wantTags    []string
		wantDigests []string
	}{
		{
			name:        "one tag",
			names:       []string{"docker.io/library/busybox:latest"},
			digests:     []string{d1},
			wantTags:    []string{"docker.io/library/busybox:latest"},
			wantDigests: []string{"docker.io/library/busybox@" + d1},
		},
		{
			name:        "three tags of one repo give one repo digest",
			names:       []string{"gcr.io/x/tags:1", "gcr.io/x/tags:2", "gcr.io/x/tags:3"},
			digests:     []string{d1},
			wantTags:    []string{"gcr.io/x/tags:1", "gcr.io/x/tags:2", "gcr.io/x/tags:3"},
			wantDigests: []string{"gcr.io/x/tags@" + d1},
		},
		{
			name:        "pulled by digest only: no tags",
			names:       []string{"gcr.io/x/img@" + d1},
			digests:     []string{d1},
			wantDigests: []string{"gcr.io/x/img@" + d1},
		},
		{
			name:        "two registries, list and instance digests",
			names:       []string{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"},
			digests:     []string{d1, d2},
			wantTags:    []string{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"},
			wantDigests: []string{"registry.k8s.io/pause@" + d1, "registry.k8s.io/pause@" + d2, "k8s.gcr.io/pause@" + d1, "k8s.gcr.io/pause@" + d2},
		},
		{name: "no names", digests: []string{d1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tags, digests := repoTagsAndDigests(tc.names, tc.digests)
			if !reflect.DeepEqual(tags, tc.wantTags) {
				t.Errorf("tags = %v, want %v", tags, tc.wantTags)
			}
			if !reflect.DeepEqual(digests, tc.wantDigests) {
				t.Errorf("digests = %v, want %v", digests, tc.wantDigests)
			}
		})
	}
}

func TestPinned(t *testing.T) {
	for _, tc := range []struct {
		patterns, tags []string
		want           bool
	}{
		{nil, []string{"registry.k8s.io/pause:3.10"}, false},
		{[]string{"registry.k8s.io/pause:3.10"}, []string{"registry.k8s.io/pause:3.10"}, true},
		{[]string{"registry.k8s.io/pause:3.10"}, []string{"registry.k8s.io/pause:3.9"}, false},
		{[]string{"registry.k8s.io/pause:*"}, []string{"docker.io/library/busybox:latest", "registry.k8s.io/pause:3.9"}, true},
		{[]string{"registry.k8s.io/*"}, []string{"docker.io/library/busybox:latest"}, false},
	} {
		if got := pinned(tc.patterns, tc.tags); got != tc.want {
			t.Errorf("pinned(%v, %v) = %v, want %v", tc.patterns, tc.tags, got, tc.want)
		}
	}
}

func TestCheckReference(t *testing.T) {
	for ref, ok := range map[string]bool{
		"busybox": true, "registry.k8s.io/pause:3.10": true, "localhost:5000/a@sha256:" + strings.Repeat("0", 64): true,
		"sha256:" + strings.Repeat("ab", 32): true, strings.Repeat("ab", 32): true, "abcdef12": true,
		"": false, "Busy::box": false, "a\x00b": false, "localhost:99999/x": false, "x@md5:abc": false,
		"registry.k8s.io/" + strings.Repeat("a", 300): false,
	} {
		err := CheckReference(ref)
		if (err == nil) != ok || (err != nil && !errors.Is(err, errdefs.ErrInvalidArgument)) {
			t.Errorf("CheckReference(%q) = %v, want ok %v", ref, err, ok)
		}
	}
}

// FuzzCheckReference: any string is accepted or refused as an image
// reference, never a panic; an accepted name that is not an id normalises.
func FuzzCheckReference(f *testing.F) {
	for _, s := range []string{"busybox", "localhost:5000/a:b", "sha256:" + strings.Repeat("a", 64), "a@sha256:b", "", "x:99999/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if CheckReference(ref) != nil || idRE.MatchString(ref) || shortIDRE.MatchString(ref) {
			return
		}
		if _, err := Normalize(ref); err != nil {
			t.Fatalf("CheckReference(%q) accepted what Normalize refuses: %v", ref, err)
		}
	})
}
