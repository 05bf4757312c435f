package cri

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Linux's real-time signal range, as the C library exposes it (glibc keeps
// 32 and 33 for itself).
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signalAliases are the other names of signals that x/sys/unix knows by
// one name only; the CRI's Signal enum uses them.
var signalAliases = map[string]string{"CLD": "CHLD", "POLL": "IO", "IOT": "ABRT"}

// parseSignal reads a stop signal as images and the CRI write it, as
// containerd and moby do: a number ("9"), a name with or without "SIG"
// in any case ("SIGTERM", "term"), or a real-time signal relative to
// either end ("SIGRTMIN+3", "RTMAX-1"). "" is 0: the runtime's default.
func parseSignal(s string) (unix.Signal, bool) {
	if s == "" {
		return 0, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		return unix.Signal(n), n >= 1 && n <= sigRTMax
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	// The CRI's own spellings: SIGNAL_SIGRTMINPLUS3, SIGNAL_SIGRTMAXMINUS2.
	name = strings.Replace(strings.Replace(name, "RTMINPLUS", "RTMIN+", 1), "RTMAXMINUS", "RTMAX-", 1)
	if alias, ok := signalAliases[name]; ok {
		name = alias
	}
	for _, rt := range []struct {
		prefix string
		base   int
		dir    int
	}{{"RTMIN", sigRTMin, 1}, {"RTMAX", sigRTMax, -1}} {
		rest, ok := strings.CutPrefix(name, rt.prefix)
		if !ok {
			continue
		}
		off := 0
		if rest != "" {
			sign := "+"
			if rt.dir < 0 {
				sign = "-"
			}
			digits, ok := strings.CutPrefix(rest, sign)
			n, err := strconv.Atoi(digits)
			if !ok || err != nil || n < 0 {
				return 0, false
			}
			off = n * rt.dir
		}
		sig := rt.base + off
		return unix.Signal(sig), sig >= sigRTMin && sig <= sigRTMax
	}
	sig := unix.SignalNum("SIG" + name)
	return sig, sig != 0
}
