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

// ReadExit returns the exit record in dir, or nil if there is none yet.
func ReadExit(dir string) (*wire.Exit, error) {
	b, err := os.ReadFile(filepath.Join(dir, wire.ExitFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e wire.Exit
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
