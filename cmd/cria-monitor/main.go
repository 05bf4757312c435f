// Command cria-monitor holds cria's small long-lived helper processes: one
// monitor per container, and the init of each pod's shared PID
// namespace. So that each costs little memory, it links no libcontainer,
// gRPC or image code, nor fmt, encoding/json, net or os/exec: its memory
// is mostly its text, and those would double it. main_test.go keeps it so.
//
//	cria-monitor pause ROOT       the init of a pod's shared PID namespace (see pause.go)
//	cria-monitor standby HELPER   a container's monitor (see run.go)
//
// The daemon starts a monitor in standby before it has a container for it:
// the monitor starts its start helper, HELPER, in standby too, and waits
// for its Options on wire.OptionsFd. A CreateContainer then finds both
// processes' execs and runtime start-ups already paid.
package main

import (
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// The oom_score_adj of monitors and pause processes: the kubelet's value
// for a runtime's helpers (containerd's shims, CRI-O's conmon, the pause).
const (
	monitorOOMScoreAdj = "-999"
	pauseOOMScoreAdj   = "-998"
)

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "pause":
		os.Exit(pause(os.Args[2]))
	case len(os.Args) == 3 && os.Args[1] == "standby":
		os.Exit(standby(os.Args[2], os.NewFile(wire.SyncFd, "sync")))
	}
	os.Stderr.WriteString("usage: cria-monitor pause ROOT | cria-monitor standby HELPER\n")
	os.Exit(2)
}

// standby starts the helper, waits for the container's Options and runs
// its monitor. Without Options (the daemon let this standby go, or went
// away) it exits, and so does its helper.
func standby(helperPath string, syncPipe *os.File) int {
	fail := func(err error) int {
		_, _ = syncPipe.WriteString("error " + err.Error() + "\n")
		return 1
	}
	// A subreaper from the start: the container's init is re-parented here
	// when the helper exits.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(os.NewSyscallError("becoming a subreaper: prctl", err))
	}
	h, err := startHelper(helperPath)
	if err != nil {
		return fail(err)
	}
	// What the kubelet expects of a runtime's helpers, where the kernel
	// lets this process lower its score (CAP_SYS_RESOURCE). After the
	// helper has started: the container's init must not inherit it.
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte(monitorOOMScoreAdj), 0)
	b, err := io.ReadAll(os.NewFile(wire.OptionsFd, "options"))
	if err != nil || len(b) == 0 {
		h.close()
		return 0
	}
	o, err := wire.ParseArgs(strings.Split(string(b), "\x00"))
	if err != nil {
		h.close()
		return fail(err)
	}
	return run(o, h, syncPipe)
}
