package procs

import (
	"runtime"
	"testing"
)

func TestManageAndBusy(t *testing.T) {
	start := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		mu.Lock()
		managed, busy = false, 0
		mu.Unlock()
		runtime.GOMAXPROCS(start)
	})
	procs := func() int { return runtime.GOMAXPROCS(0) }

	// GOMAXPROCS in the environment: nothing changes, Busy is a no-op.
	if got := manage(true); got != 0 || procs() != start {
		t.Fatalf("manage with GOMAXPROCS set = %d, procs %d, want 0, %d", got, procs(), start)
	}
	Busy()()
	if procs() != start {
		t.Fatalf("Busy unmanaged: procs %d, want %d", procs(), start)
	}

	runtime.GOMAXPROCS(4) // as on a 4-CPU node
	if got := manage(false); got != 1 || procs() != 1 {
		t.Fatalf("manage = %d, procs %d, want 1, 1", got, procs())
	}
	if got := manage(false); got != 0 || procs() != 1 {
		t.Fatalf("a second manage = %d, procs %d, want 0, 1", got, procs())
	}
	a := Busy()
	if procs() != 4 {
		t.Fatalf("one Busy: procs %d, want 4", procs())
	}
	b := Busy()
	a()
	a() // a release counts once
	if procs() != 4 {
		t.Fatalf("one Busy released twice, one held: procs %d, want 4", procs())
	}
	b()
	if procs() != 1 {
		t.Fatalf("every Busy released: procs %d, want 1", procs())
	}
}
