package cri

import (
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
)

// decoded keeps records' CRI configs decoded, by record id, for the reads
// that every relist makes. An entry holds while the record keeps the same
// bytes: a published record's bytes are never changed in place, and an
// update publishes new ones. What it returns is shared: read it, never
// change it (decode afresh to change one: containerConfig, sandboxConfig).
type decoded[M proto.Message] struct {
	mu  sync.Mutex
	m   map[string]decodedEntry[M]
	new func() M
}

type decodedEntry[M proto.Message] struct {
	raw []byte
	msg M
}

func newDecoded[M proto.Message](new func() M) *decoded[M] {
	return &decoded[M]{m: map[string]decodedEntry[M]{}, new: new}
}

// get returns raw, the config of record id, decoded.
func (d *decoded[M]) get(id string, raw []byte) M {
	d.mu.Lock()
	e, ok := d.m[id]
	d.mu.Unlock()
	if ok && sameBytes(e.raw, raw) {
		return e.msg
	}
	msg := d.new()
	_ = protojson.Unmarshal(raw, msg) // written by us from a valid message
	d.mu.Lock()
	d.m[id] = decodedEntry[M]{raw: raw, msg: msg}
	d.mu.Unlock()
	return msg
}

// forget drops the entry of a record that is gone.
func (d *decoded[M]) forget(id string) {
	d.mu.Lock()
	delete(d.m, id)
	d.mu.Unlock()
}

// sameBytes tells whether a and b are the same bytes in memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// ctrConfig is c's CRI config, decoded once per version; read only.
func (s *RuntimeService) ctrConfig(c *store.Container) *runtimeapi.ContainerConfig {
	return s.ctrConfigs.get(c.ID, c.Config)
}

// podConfig is sb's CRI config, decoded once per version; read only.
func (s *RuntimeService) podConfig(sb *store.Sandbox) *runtimeapi.PodSandboxConfig {
	return s.podConfigs.get(sb.ID, sb.Config)
}
