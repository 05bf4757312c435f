package pidfd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func threads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: in /proc/self/status")
	return 0
}

func start(t *testing.T) *exec.Cmd {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// Waiting on many processes holds no thread each, as exec.Cmd.Wait does.
func TestWaitCmdHoldsNoThread(t *testing.T) {
	const n = 50
	before := threads(t)
	var cmds []*exec.Cmd
	done := make(chan error, n)
	for range n {
		cmd := start(t)
		cmds = append(cmds, cmd)
		go func() { done <- WaitCmd(cmd) }()
	}
	time.Sleep(200 * time.Millisecond) // the waits are parked
	if grown := threads(t) - before; grown >= n/2 {
		t.Errorf("%d threads more while waiting on %d processes", grown, n)
	}
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for range n {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
				t.Errorf("WaitCmd: %v, want the SIGTERM exit", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("WaitCmd did not return after the process ended")
		}
	}
	for _, cmd := range cmds {
		// Reaped: the pid is gone, no zombie is left.
		if err := unix.Kill(cmd.Process.Pid, 0); !errors.Is(err, unix.ESRCH) {
			t.Errorf("process %d after WaitCmd: kill 0 gives %v, want ESRCH", cmd.Process.Pid, err)
		}
	}
}

func TestEnded(t *testing.T) {
	cmd := start(t)
	p, err := Open(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Ended() {
		t.Fatal("Ended of a running process")
	}
	_ = cmd.Process.Kill()
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	// A zombie not reaped yet has ended.
	if !p.Ended() {
		t.Error("not Ended after Wait")
	}
	if _, err := cmd.Process.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cmd.Process.Pid); !errors.Is(err, unix.ESRCH) {
		t.Errorf("Open of a reaped process: %v, want ESRCH", err)
	}
}

func TestWaitUntil(t *testing.T) {
	cmd := start(t)
	p, err := Open(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.WaitUntil(context.Background(), time.Now().Add(50*time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("WaitUntil past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := p.WaitUntil(ctx, time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitUntil with its context cancelled: %v, want context.Canceled", err)
	}
	time.AfterFunc(50*time.Millisecond, func() { _ = cmd.Process.Kill() })
	// No error: the process's end, not the deadline, ended the wait.
	if err := p.WaitUntil(context.Background(), time.Now().Add(time.Minute)); err != nil {
		t.Errorf("WaitUntil of a process that ends: %v", err)
	}
	_, _ = cmd.Process.Wait()
}

// OnExit watches many processes with no goroutine or thread each, runs
// each function once its process has ended, and not after cancel.
func TestOnExit(t *testing.T) {
	const n = 50
	if _, err := OnExit(os.Getpid(), func() {}); err != nil { // starts the watcher
		t.Fatal(err)
	}
	goroutines, thr := runtime.NumGoroutine(), threads(t)
	ran := make(chan int, n)
	var cmds []*exec.Cmd
	for i := range n {
		cmd := start(t)
		cmds = append(cmds, cmd)
		if _, err := OnExit(cmd.Process.Pid, func() { _ = cmd.Wait(); ran <- i }); err != nil {
			t.Fatal(err)
		}
	}
	cancelled := start(t)
	cancel, err := OnExit(cancelled.Process.Pid, func() { ran <- -1 })
	if err != nil {
		t.Fatal(err)
	}
	if g := runtime.NumGoroutine() - goroutines; g >= n/5 {
		t.Errorf("%d goroutines more while watching %d processes", g, n)
	}
	if grown := threads(t) - thr; grown >= n/5 {
		t.Errorf("%d threads more while watching %d processes", grown, n)
	}
	select {
	case i := <-ran:
		t.Fatalf("watch %d ran while its process runs", i)
	case <-time.After(100 * time.Millisecond):
	}
	if !cancel() {
		t.Error("cancel of a watch that has not run: false")
	}
	if cancel() {
		t.Error("a second cancel: true")
	}
	_ = cancelled.Process.Kill()
	_, _ = cancelled.Process.Wait()
	for _, cmd := range cmds {
		_ = cmd.Process.Kill()
	}
	seen := map[int]bool{}
	for range n {
		select {
		case i := <-ran:
			if i < 0 || seen[i] {
				t.Fatalf("watch %d ran (twice, or after cancel)", i)
			}
			seen[i] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d watches ran after their processes ended", len(seen), n)
		}
	}
	for _, cmd := range cmds {
		if err := unix.Kill(cmd.Process.Pid, 0); !errors.Is(err, unix.ESRCH) {
			t.Errorf("process %d was not reaped: %v", cmd.Process.Pid, err)
		}
	}
	// A process that is gone already: at once.
	gone := make(chan struct{})
	if _, err := OnExit(cancelled.Process.Pid, func() { close(gone) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Error("the watch of a reaped process did not run")
	}
	select {
	case i := <-ran:
		t.Errorf("watch %d ran after cancel", i)
	default:
	}
}
