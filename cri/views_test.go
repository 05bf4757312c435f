package cri

import (
	"testing"

	"github.com/cria-runtime/cria/cri/store"
)

func TestViews(t *testing.T) {
	builds := 0
	build := func(c *store.Container) string {
		builds++
		return c.ID + ":" + string(c.State)
	}
	live := map[string]bool{"c1": true}
	isLive := func(id string) bool { return live[id] }
	vs := newViews[string]()

	running := &store.Container{ID: "c1", State: store.ContainerRunning}
	steps := []struct {
		name       string
		rec        *store.Container
		want       string
		wantBuilds int
	}{
		{"first ask builds", running, "c1:" + string(store.ContainerRunning), 1},
		{"the same record is not built again", running, "c1:" + string(store.ContainerRunning), 1},
		// An equal record elsewhere in memory is another version of it.
		{"a new version of the record is built", &store.Container{ID: "c1", State: store.ContainerRunning}, "c1:" + string(store.ContainerRunning), 2},
		{"a changed record is built", &store.Container{ID: "c1", State: store.ContainerExited}, "c1:" + string(store.ContainerExited), 3},
	}
	for _, st := range steps {
		if got := vs.get(st.rec, build, isLive); got != st.want || builds != st.wantBuilds {
			t.Errorf("%s: got %q after %d builds, want %q after %d", st.name, got, builds, st.want, st.wantBuilds)
		}
	}
	vs.forget("c1")
	if len(vs.m) != 0 {
		t.Errorf("views after forget: %v", vs.m)
	}
	// Built while its container was removed (after the removal's forget):
	// answered, not kept.
	gone := &store.Container{ID: "c2", State: store.ContainerExited}
	if got := vs.get(gone, build, isLive); got != "c2:"+string(store.ContainerExited) {
		t.Errorf("a removed container's view: %q", got)
	}
	if len(vs.m) != 0 {
		t.Errorf("a removed container's view was kept: %v", vs.m)
	}
}
