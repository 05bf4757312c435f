// Package procs sets how many CPUs run the daemon's Go code at once
// (GOMAXPROCS).
//
// Most of a node's calls are small polls: the kubelet asks for every
// container's status every second. Each costs a few microseconds of Go
// code, and most of its CPU is the threads' sleeps and wake-ups around it.
// With more than one P, each wake-up of a goroutine also wakes an idle
// thread that spins looking for work and goes back to sleep; on a 2-core
// node, 500 calls a second that do nothing cost 6 to 7 % of a core that
// way, and 4 to 5 % on one P (3 to 4 % since the CRI socket's reads and
// writes stopped waking the scheduler's monitor thread: cmd/cria/conn.go).
// So the daemon runs on one P, and work that
// needs the CPUs (an image pull: decompression, digests) lifts it to all of
// them while it runs (Busy). Child processes (cria-start, the monitors,
// CNI plugins, the layer unpacker) are not affected.
package procs

import (
	"os"
	"runtime"
	"sync"
)

var (
	mu      sync.Mutex
	managed bool
	all     int // GOMAXPROCS as the runtime chose it at start
	busy    int // how many Busy holds are out
)

// Manage puts the daemon on one P, unless the environment sets GOMAXPROCS
// (then nothing here changes it). It returns what it set (0: nothing).
func Manage() int { return manage(os.Getenv("GOMAXPROCS") != "") }

func manage(set bool) int {
	mu.Lock()
	defer mu.Unlock()
	if set || managed {
		return 0
	}
	managed = true
	all = runtime.GOMAXPROCS(1)
	return 1
}

// Busy lifts the daemon to all CPUs until release is called; holds nest.
// It does nothing when Manage did nothing.
func Busy() (release func()) {
	mu.Lock()
	defer mu.Unlock()
	if !managed {
		return func() {}
	}
	busy++
	if busy == 1 && all > 1 {
		runtime.GOMAXPROCS(all)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			busy--
			if busy == 0 {
				runtime.GOMAXPROCS(1)
			}
		})
	}
}
