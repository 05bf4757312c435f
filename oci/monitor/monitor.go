// Package monitor is the daemon's side of cria's per-container monitor: it
// starts a monitor that creates its container (Launcher.Create), starts the
// container (Start), reads the exit record the monitor leaves (ReadExit),
// and talks to its sockets (Reopen, Attach). The monitor process itself is
// cmd/cria-monitor; what the two share is oci/monitor/wire. This package
// must not import oci/runtime, and the monitor must not import this one,
// so that the monitor binary stays small.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// The contract with the monitor, for the daemon's use.
type (
	// Options are the monitor's command line.
	Options = wire.Options
	// Exit is a container init's end, as the monitor records it.
	Exit = wire.Exit
)

// Files in a container's run directory (see wire).
const (
	SpecFile        = wire.SpecFile
	PidFile         = wire.PidFile
	StartErrorFile  = wire.StartErrorFile
	MonitorPidFile  = wire.MonitorPidFile
	ConsoleSocketFd = wire.ConsoleSocketFd
)

// ReadPid reads a pid file.
func ReadPid(path string) (int, error) { return wire.ReadPid(path) }

// ReadPidStart reads a pid file and the start time it records (0 if none).
func ReadPidStart(path string) (int, uint64, error) { return wire.ReadPidStart(path) }

// ProcessStart returns when pid started (see wire.ProcessStart).
func ProcessStart(pid int) (uint64, error) { return wire.ProcessStart(pid) }

// ReadExit returns the exit record in dir, or nil if there is none yet.
func ReadExit(dir string) (*Exit, error) {
	b, err := os.ReadFile(filepath.Join(dir, wire.ExitFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("exit record %s: %w", dir, err)
	}
	return &e, nil
}

// dialSocket connects to the socket name in dir.
func dialSocket(dir, name string) (net.Conn, error) {
	path, release, err := wire.SocketPath(dir, name)
	if err != nil {
		return nil, err
	}
	defer release()
	return net.DialTimeout("unix", path, 5*time.Second)
}
