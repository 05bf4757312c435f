package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// pause is PID 1 of a pod's shared PID namespace: it holds the namespace,
// reaps the zombies that containers' processes leave to it, and exits on
// SIGTERM or SIGINT (taking every process of the namespace with it).
func pause() int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGCHLD)
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			return 0
		}
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return 0
}
