// Command cria-monitor holds cria's small long-lived helper processes: one
// monitor per running container, and the init of each pod's shared PID
// namespace. So that each costs little memory, it links no libcontainer,
// gRPC or image code, nor fmt, encoding/json, net or os/exec: its memory
// is mostly its text, and those would double it. main_test.go keeps it so.
//
//	cria-monitor pause          the init of a pod's shared PID namespace
//	cria-monitor run FLAGS      a container's monitor (see run.go)
package main

import (
	"os"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "pause":
		os.Exit(pause())
	case len(os.Args) > 1 && os.Args[1] == "run":
		o, err := wire.ParseArgs(os.Args[2:])
		if err != nil {
			os.Stderr.WriteString("cria-monitor: " + err.Error() + "\n")
			os.Exit(2)
		}
		os.Exit(run(o, os.NewFile(wire.SyncFd, "sync")))
	}
	os.Stderr.WriteString("usage: cria-monitor pause | cria-monitor run FLAGS\n")
	os.Exit(2)
}
