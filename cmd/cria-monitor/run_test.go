package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
