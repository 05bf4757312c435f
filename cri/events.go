package cri

import (
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// eventBuffer is how many events a slow subscriber may fall behind before
// it is dropped (the kubelet then relists, as it does on any stream error).
const eventBuffer = 1024

// events fans container and sandbox lifecycle events out to the
// GetContainerEvents streams.
type events struct {
	mu   sync.Mutex // protects subs
	subs map[chan *runtimeapi.ContainerEventResponse]struct{}
}

func newEvents() *events {
	return &events{subs: map[chan *runtimeapi.ContainerEventResponse]struct{}{}}
}

// subscribe returns a channel of events and a function that ends the
// subscription. The channel is closed if the subscriber falls behind.
func (e *events) subscribe() (<-chan *runtimeapi.ContainerEventResponse, func()) {
	ch := make(chan *runtimeapi.ContainerEventResponse, eventBuffer)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		if _, ok := e.subs[ch]; ok {
			delete(e.subs, ch)
			close(ch)
		}
		e.mu.Unlock()
	}
}

// publish sends ev to every subscriber without blocking.
func (e *events) publish(ev *runtimeapi.ContainerEventResponse) {
	if ev.CreatedAt == 0 {
		ev.CreatedAt = time.Now().UnixNano()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		select {
		case ch <- ev:
		default:
			delete(e.subs, ch)
			close(ch)
		}
	}
}
