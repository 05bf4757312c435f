package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

var subnetCounter atomic.Int32

// BridgeNetwork describes the CNI bridge network that WithBridgeNetwork
// gives a daemon: its own bridge and /24 inside the test's network
// namespace, with host-local's allocations kept in the daemon's directory.
type BridgeNetwork struct {
	Bridge  string // the bridge interface, e.g. "cb3"
	Subnet  string // e.g. "10.99.3.0/24"
	Gateway string // e.g. "10.99.3.1"
	IPAMDir string // host-local's data directory
}

// WithBridgeNetwork writes a bridge + portmap CNI config into the daemon's
// CNI config directory and records it in d.Network.
func WithBridgeNetwork() DaemonOption {
	return func(d *Daemon) {
		n := subnetCounter.Add(1)
		d.Network = &BridgeNetwork{
			Bridge:  fmt.Sprintf("cb%d", n),
			Subnet:  fmt.Sprintf("10.99.%d.0/24", n),
			Gateway: fmt.Sprintf("10.99.%d.1", n),
			IPAMDir: filepath.Join(d.Dir, "cni-ipam"),
		}
		d.WriteCNIConfig("10-bridge.conflist", d.Network.Conflist())
	}
}

// Conflist returns the network's CNI config, with extra plugins chained
// after the bridge (before portmap).
func (n *BridgeNetwork) Conflist(extra ...string) string {
	plugins := fmt.Sprintf(`{"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
	  "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}}`, n.Bridge, n.Subnet, n.IPAMDir)
	for _, e := range extra {
		plugins += ",\n" + e
	}
	plugins += `,
	{"type": "portmap", "capabilities": {"portMappings": true}}`
	return fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "cria-test", "plugins": [%s]}`, plugins)
}

// WriteCNIConfig writes a file into the daemon's CNI config directory.
func (d *Daemon) WriteCNIConfig(name, content string) {
	d.t.Helper()
	if err := os.MkdirAll(d.Config.Network.CNIConfDir, 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Config.Network.CNIConfDir, name), []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// AllocatedIPs lists the addresses host-local holds for the network.
func (n *BridgeNetwork) AllocatedIPs() []string {
	entries, _ := os.ReadDir(filepath.Join(n.IPAMDir, "cria-test"))
	var ips []string
	for _, e := range entries {
		if isIP(e.Name()) {
			ips = append(ips, e.Name())
		}
	}
	return ips
}

func isIP(s string) bool {
	dots := 0
	for _, c := range s {
		switch {
		case c == '.':
			dots++
		case c == ':':
			return true
		case c < '0' || c > '9':
			return false
		}
	}
	return dots == 3
}
