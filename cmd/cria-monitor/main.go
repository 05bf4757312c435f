// Command cria-monitor holds cria's small long-lived helper processes. It
// links no libcontainer, gRPC or image code, so that each costs little
// memory.
//
//	cria-monitor pause          the init of a pod's shared PID namespace
//	cria-monitor run FLAGS      a container's monitor (see oci/monitor)
package main

import (
	"fmt"
	"os"

	"github.com/cria-runtime/cria/oci/monitor"
)

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "pause":
		os.Exit(pause())
	case len(os.Args) > 1 && os.Args[1] == "run":
		o, err := monitor.ParseArgs(os.Args[2:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "cria-monitor: %v\n", err)
			os.Exit(2)
		}
		os.Exit(monitor.Run(o, os.NewFile(3, "sync")))
	}
	fmt.Fprintln(os.Stderr, "usage: cria-monitor pause | cria-monitor run FLAGS")
	os.Exit(2)
}
