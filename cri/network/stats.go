package network

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
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

// ReadInterfaceStatsVia reads what ReadInterfaceStats does through
// /proc/<pid>/net/dev of one of pids, a process of that namespace (checked
// by the namespace's inode before and after the read, so that a pid reused
// meanwhile is never read): no thread enters the namespace. Without such a
// process it enters the namespace.
func ReadInterfaceStatsVia(path string, pids []int) ([]InterfaceStats, error) {
	var pin unix.Stat_t
	if err := unix.Stat(path, &pin); err != nil {
		return nil, err
	}
	inNS := func(pid int) bool {
		var st unix.Stat_t
		return unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Dev == pin.Dev && st.Ino == pin.Ino
	}
	for _, pid := range pids {
		if pid <= 0 || !inNS(pid) {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
		if err == nil && inNS(pid) {
			return parseNetDev(b), nil
		}
	}
	return ReadInterfaceStats(path)
}

// parseNetDev parses /proc/net/dev, in place: a node's pod stats parse
// one a pod.
func parseNetDev(b []byte) []InterfaceStats {
	var out []InterfaceStats
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		f := bytes.Fields(rest)
		if string(name) == "lo" || len(f) < 16 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(string(f[i]), 10, 64); return v }
		out = append(out, InterfaceStats{
			Name: string(name), RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11),
		})
	}
	return out
}
