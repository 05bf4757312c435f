package cri

import (
	"sync"

	"github.com/cria-runtime/cria/cri/store"
)

// views keeps what an RPC builds of a container's record for its answer,
// one view per container. A published record never changes (see
// store.Shared), so a view holds for as long as its record is the
// container's: a kubelet asks for every container's status every second,
// and a status rarely changes between two asks. The answers share the
// views, as they share the decoded configs: gRPC only reads the messages
// that it sends, and marshals a message concurrently through atomic size
// caches.
type views[V any] struct {
	mu sync.Mutex // protects m
	m  map[string]view[V]
}

type view[V any] struct {
	rec *store.Container
	v   V
}

func newViews[V any]() *views[V] { return &views[V]{m: map[string]view[V]{}} }

// get returns the view of c, built by build when c is not the record that
// the kept view was built of. live tells whether c's container is still in
// the store: a view built while the container was removed is not kept,
// because forget came before it.
func (vs *views[V]) get(c *store.Container, build func(*store.Container) V, live func(id string) bool) V {
	vs.mu.Lock()
	e, ok := vs.m[c.ID]
	vs.mu.Unlock()
	if ok && e.rec == c {
		return e.v
	}
	v := build(c)
	vs.mu.Lock()
	vs.m[c.ID] = view[V]{rec: c, v: v}
	vs.mu.Unlock()
	// The container's removal deletes its record, then forgets its views:
	// seen still live here, its forget comes after the view was kept.
	if !live(c.ID) {
		vs.forget(c.ID)
	}
	return v
}

// forget drops the view of a container that is gone.
func (vs *views[V]) forget(id string) {
	vs.mu.Lock()
	delete(vs.m, id)
	vs.mu.Unlock()
}
