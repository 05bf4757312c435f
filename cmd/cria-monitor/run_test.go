package main

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// A command that runs and ends at once (`true`) may be reaped before its
// start is answered: the start still went through, since the init left
// its word in the fifo. An init that died before opening the fifo did not
// start.
func TestStartRacingAnInitThatExitsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		writes  bool
		wantErr bool
	}{
		{name: "ran and exited", writes: true},
		{name: "died before the fifo", writes: false, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "exec.fifo")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() {
				if !tc.writes {
					close(exited)
					return
				}
				f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					return
				}
				// The exit is seen before the word is read.
				close(exited)
				time.Sleep(50 * time.Millisecond)
				f.WriteString("0")
				f.Close()
			}()
			// Let the exit land while the monitor is already reading.
			time.Sleep(10 * time.Millisecond)
			err := startContainer(fifo, exited)
			if (err != nil) != tc.wantErr {
				t.Errorf("start: %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// The monitor exits once its init has: a start in flight then must be
// answered first, or the daemon reads the end of the connection for a
// container that did start. The monitor takes the starting lock before it
// goes; a start holds it until its answer is written.
func TestExitWaitsForTheStartsAnswer(t *testing.T) {
	dir, err := os.MkdirTemp("", "cria-monitor-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fifo := filepath.Join(dir, "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := listen(dir, wire.SocketFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	exited := make(chan struct{})
	var starting sync.Mutex
	go serveControl(l, nil, fifo, exited, &starting)

	c, err := net.Dial("unix", filepath.Join(dir, wire.SocketFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(wire.CommandStart + "\n")); err != nil {
		t.Fatal(err)
	}
	// The start is waiting on the fifo once it has a reader: an open for
	// writing that does not wait succeeds only then.
	var w int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if w, err = unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the start never opened the fifo: %v", err)
		}
	}
	settled := make(chan struct{})
	go func() {
		starting.Lock() // as the monitor does before it exits
		close(settled)
	}()
	select {
	case <-settled:
		t.Fatal("the monitor could exit while a start was waiting for the init")
	case <-time.After(100 * time.Millisecond):
	}
	// The init writes its word, execs a command that ends at once, and is
	// reaped.
	unix.Write(w, []byte("0"))
	unix.Close(w)
	close(exited)
	select {
	case <-settled:
	case <-time.After(5 * time.Second):
		t.Fatal("the monitor could not exit after the start was answered")
	}
	// The answer is written already, before the monitor may exit.
	rc, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	var n int
	var readErr error
	rc.Control(func(fd uintptr) { n, _, readErr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT|unix.MSG_PEEK) })
	if readErr != nil || string(buf[:n]) != "ok\n" {
		t.Fatalf("when the monitor may exit, the daemon has %q (%v), want \"ok\\n\"", buf[:n], readErr)
	}
}
