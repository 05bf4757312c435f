package cri

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestDecodedConfigs(t *testing.T) {
	d := newDecoded(func() *runtimeapi.ContainerConfig { return &runtimeapi.ContainerConfig{} })
	v1 := []byte(`{"metadata":{"name":"a"}}`)
	first := d.get("c1", v1)
	if first.GetMetadata().GetName() != "a" {
		t.Fatalf("decoded %v", first)
	}
	if again := d.get("c1", v1); again != first {
		t.Error("the same bytes were decoded again")
	}
	// Equal bytes elsewhere in memory are another version of the record.
	if other := d.get("c1", append([]byte(nil), v1...)); other == first {
		t.Error("a new version of the record got the old decoding")
	}
	v2 := []byte(`{"metadata":{"name":"b"}}`)
	if got := d.get("c1", v2); got.GetMetadata().GetName() != "b" {
		t.Errorf("after an update: %v", got)
	}
	d.forget("c1")
	if len(d.m) != 0 {
		t.Errorf("entries after forget: %v", d.m)
	}
}
