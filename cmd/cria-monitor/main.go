// Command cria-monitor holds cria's small long-lived helper processes. It
// links no libcontainer, gRPC or image code, so that each costs little
// memory.
//
//	cria-monitor pause   the init of a pod's shared PID namespace
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "pause" {
		os.Exit(pause())
	}
	fmt.Fprintln(os.Stderr, "usage: cria-monitor pause")
	os.Exit(2)
}
