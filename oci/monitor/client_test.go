package monitor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// gone tells whether pid has exited (a zombie counts as gone).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// A create that times out takes the monitor's start helper with it, and
// Create returns only once both are gone, so that the caller's rollback
// never races a helper still creating the container.
func TestCreateTimeoutKillsTheHelperToo(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "helper.pid")
	// A monitor whose helper is stuck: it never reports.
	fake := filepath.Join(dir, "fake-monitor")
	script := "#!/bin/sh\nsleep 1000 &\necho $! > " + pidFile + "\nwait\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l := NewLauncher(fake, "/bin/true", nil)
	defer l.Close()
	_, _, err := l.Create(wire.Options{ID: "c", Dir: dir, LogPath: filepath.Join(dir, "log"), ExecFifo: filepath.Join(dir, "fifo")}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not created within") {
		t.Fatalf("Create = %v, want a timeout", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !gone(pid) {
		t.Errorf("the helper (pid %d) still runs after Create gave up", pid)
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}
