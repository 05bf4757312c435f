package network

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// InterfaceStats are one interface's counters.
type InterfaceStats struct {
	Name                 string
	RxBytes, RxErrors    uint64
	TxBytes, TxErrors    uint64
	RxPackets, TxPackets uint64
	RxDropped, TxDropped uint64
}

// ReadInterfaceStats reads the counters of every interface but loopback in
// the network namespace pinned at path.
func ReadInterfaceStats(path string) ([]InterfaceStats, error) {
	var out []InterfaceStats
	err := InNetNS(path, func() error {
		// thread-self: /proc/self/net would show the process leader's
		// namespace, not this thread's.
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		if err != nil {
			return err
		}
		out = parseNetDev(b)
		return nil
	})
	return out, err
}

// parseNetDev parses /proc/net/dev.
func parseNetDev(b []byte) []InterfaceStats {
	var out []InterfaceStats
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if name == "lo" || len(f) < 16 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		out = append(out, InterfaceStats{
			Name: name, RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11),
		})
	}
	return out
}
