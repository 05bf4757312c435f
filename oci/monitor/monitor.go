// Package monitor holds both sides of cria's per-container monitor: the
// monitor process itself (Run, in the small cria-monitor binary) and the
// daemon's client (Start, ReadExit, Reopen). It must not import
// oci/runtime, so that the monitor stays small.
//
// The monitor is started detached (its own session) and outlives the
// daemon. It makes itself a child subreaper, runs the start helper with
// the container's stdio pipes, and, once the helper has started the
// container and exited, is the parent of the container's init. It copies
// the init's output into the CRI log file, reopens that file on request,
// reaps the init and writes its exit record durably, then exits.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files in a container's run directory.
const (
	// SpecFile is the OCI spec the start helper starts from.
	SpecFile = "config.json"
	// PidFile is where the start helper writes the init's pid.
	PidFile = "init.pid"
	// ExitFile is the exit record the monitor writes.
	ExitFile = "exit.json"
	// SocketFile is the monitor's control socket.
	SocketFile = "monitor.sock"
	// StartErrorFile is where the start helper explains a failure.
	StartErrorFile = "start-error"
	// MonitorPidFile is where the monitor writes its own pid, first thing,
	// so that a daemon killed during a start can find it.
	MonitorPidFile = "monitor.pid"
)

// Exit is a container init's end, as the monitor records it.
type Exit struct {
	// Code is the exit status, or 128+signal for a process killed by one.
	Code int `json:"code"`
	// Signal names the signal that killed the process, if any.
	Signal string `json:"signal,omitempty"`
	// FinishedAt is in unix nanoseconds.
	FinishedAt int64 `json:"finished_at"`
}

// Options are the monitor's command line.
type Options struct {
	ID string
	// Dir is the container's run directory (spec, pid, exit, socket).
	Dir string
	// LogPath is the CRI log file.
	LogPath string
	// Helper and HelperArgs start the container (cria's hidden mode).
	Helper     string
	HelperArgs []string
	// Terminal gives the container a pty; its output is logged as stdout.
	// The helper then gets the console socket as fd 3.
	Terminal bool
	// Stdin keeps the container's stdin open for attached clients;
	// StdinOnce closes it when the first client detaches.
	Stdin, StdinOnce bool
}

// ConsoleSocketFd is the descriptor on which the start helper finds the
// console socket when the container has a terminal.
const ConsoleSocketFd = 3

func (o Options) args() []string {
	a := []string{"run", "--id", o.ID, "--dir", o.Dir, "--log", o.LogPath, "--helper", o.Helper}
	for _, h := range o.HelperArgs {
		a = append(a, "--helper-arg", h)
	}
	if o.Terminal {
		a = append(a, "--terminal", "true")
	}
	if o.Stdin {
		a = append(a, "--stdin", "true")
	}
	if o.StdinOnce {
		a = append(a, "--stdin-once", "true")
	}
	return a
}

// ParseArgs reads Options from the monitor's command line (after "run").
func ParseArgs(args []string) (Options, error) {
	var o Options
	for i := 0; i < len(args); i++ {
		if i+1 >= len(args) {
			return o, fmt.Errorf("flag %s needs a value", args[i])
		}
		v := args[i+1]
		switch args[i] {
		case "--id":
			o.ID = v
		case "--dir":
			o.Dir = v
		case "--log":
			o.LogPath = v
		case "--helper":
			o.Helper = v
		case "--helper-arg":
			o.HelperArgs = append(o.HelperArgs, v)
		case "--terminal":
			o.Terminal = v == "true"
		case "--stdin":
			o.Stdin = v == "true"
		case "--stdin-once":
			o.StdinOnce = v == "true"
		default:
			return o, fmt.Errorf("unknown flag %s", args[i])
		}
		i++
	}
	if o.ID == "" || !filepath.IsAbs(o.Dir) || !filepath.IsAbs(o.LogPath) || !filepath.IsAbs(o.Helper) {
		return o, errors.New("--id, and absolute --dir, --log and --helper, are required")
	}
	return o, nil
}

// ReadExit returns the exit record in dir, or nil if there is none yet.
func ReadExit(dir string) (*Exit, error) {
	b, err := os.ReadFile(filepath.Join(dir, ExitFile))
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

// socketPath returns a short path to the socket name in dir, through an
// open descriptor of dir, so that deep directories stay within the 108
// bytes a unix socket path may have. Call release when done with the path.
func socketPath(dir, name string) (path string, release func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), name), func() { d.Close() }, nil
}

// listenSocket listens on the socket name in dir, replacing a stale one.
func listenSocket(dir, name string) (net.Listener, error) {
	os.Remove(filepath.Join(dir, name))
	path, release, err := socketPath(dir, name)
	if err != nil {
		return nil, err
	}
	defer release()
	return net.Listen("unix", path)
}

// dialSocket connects to the socket name in dir.
func dialSocket(dir, name string) (net.Conn, error) {
	path, release, err := socketPath(dir, name)
	if err != nil {
		return nil, err
	}
	defer release()
	return net.DialTimeout("unix", path, 5*time.Second)
}

// ReadPid reads a pid file.
func ReadPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
