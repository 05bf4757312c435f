package spec

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeEnv(t *testing.T) {
	for _, tc := range []struct {
		base, over, want []string
	}{
		{nil, nil, nil},
		{[]string{"A=1"}, []string{"B=2"}, []string{"A=1", "B=2"}},
		{[]string{"A=1", "B=1"}, []string{"A=2"}, []string{"A=2", "B=1"}},
		{[]string{"A=1"}, []string{"A=2", "A=3"}, []string{"A=3"}},
		{[]string{"A=1"}, []string{"E="}, []string{"A=1", "E="}},
	} {
		if got := MergeEnv(tc.base, tc.over); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("MergeEnv(%v, %v) = %v, want %v", tc.base, tc.over, got, tc.want)
		}
	}
}

func TestWithMountsReplacesAndOrders(t *testing.T) {
	s := Default()
	err := Apply(s, WithMounts(
		specs.Mount{Destination: "/data/sub", Source: "/b", Type: "bind"},
		specs.Mount{Destination: "/data", Source: "/a", Type: "bind"},
		specs.Mount{Destination: "/dev/shm/", Source: "/shm", Type: "bind"},
	))
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	n := 0
	for i, m := range s.Mounts {
		pos[m.Destination] = i
		if m.Destination == "/dev/shm" {
			n++
		}
	}
	if pos["/data"] > pos["/data/sub"] {
		t.Errorf("/data mounted after /data/sub: %v", s.Mounts)
	}
	if n != 1 {
		t.Errorf("/dev/shm mounted %d times", n)
	}
	if err := Apply(s, WithMounts(specs.Mount{Destination: "rel"})); err == nil {
		t.Error("relative destination accepted")
	}
}

func TestNamespaces(t *testing.T) {
	s := Default()
	if err := Apply(s,
		WithNamespace(specs.NetworkNamespace, "/run/ns/net"),
		WithNamespace(specs.PIDNamespace, ""),
		WithNamespace(specs.NetworkNamespace, "/run/ns/net2"),
		WithHostNamespace(specs.PIDNamespace),
	); err != nil {
		t.Fatal(err)
	}
	want := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace, Path: "/run/ns/net2"}}
	if !reflect.DeepEqual(s.Linux.Namespaces, want) {
		t.Errorf("namespaces = %+v, want %+v", s.Linux.Namespaces, want)
	}
}
