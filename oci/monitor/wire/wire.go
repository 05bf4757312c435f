// Package wire is the contract between cria and a container's monitor: the
// files of the container's run directory, the monitor's command line, the
// frames of its attach socket and its exit record. The monitor process
// (cmd/cria-monitor) and the daemon's side (oci/monitor) both build on it.
//
// It imports nothing heavier than os and strconv (no fmt, encoding/json,
// net or os/exec), because every running container has a monitor and the
// monitor's memory is mostly its binary's text.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Files in a container's run directory.
const (
	// SpecFile is the OCI spec the start helper creates the container
	// from.
	SpecFile = "config.json"
	// PidFile is where the start helper writes the init's pid.
	PidFile = "init.pid"
	// ExitFile is the exit record the monitor writes.
	ExitFile = "exit.json"
	// SocketFile is the monitor's control socket.
	SocketFile = "monitor.sock"
	// AttachSocketFile is the monitor's attach socket.
	AttachSocketFile = "attach.sock"
	// StartErrorFile is where the start helper explains a failure.
	StartErrorFile = "start-error"
	// MonitorPidFile is where the monitor writes its own pid and start
	// time, first thing, so that a daemon killed during a start can find
	// it (a monitor's command line does not name its container).
	MonitorPidFile = "monitor.pid"
	// LogFile is the monitor's own stderr.
	LogFile = "monitor.log"
)

// ConsoleSocketFd is the descriptor on which the start helper finds the
// console socket when the container has a terminal.
const ConsoleSocketFd = 3

// The start helper's descriptors, besides its stdio (stdin /dev/null,
// stdout and stderr the container's) and ConsoleSocketFd: the start's
// arguments arrive NUL-separated on HelperArgsFd, read to EOF (none: the
// start is called off); with --stdin, the container's stdin is the pipe on
// HelperStdinFd.
const (
	HelperArgsFd  = 4
	HelperStdinFd = 5
)

// HelperEnv is a cria-start helper's environment (creating a container
// for a monitor, or running an exec for the daemon): env, with
// GOMAXPROCS=1. The helper and the container's init (libcontainer passes
// GOMAXPROCS on to it, and its Init sets 1 anyway) are short-lived and do
// one thing at a time; with one P their Go runtimes start no idle threads
// that spin for work on a node's busy CPUs. An inherited GOMAXPROCS is
// dropped, not shadowed: Go reads the first of duplicate variables.
func HelperEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			out = append(out, kv)
		}
	}
	return append(out, "GOMAXPROCS=1")
}

// OptionsFd is the descriptor on which a monitor started in standby
// ("cria-monitor standby HELPER") reads its Options, as Args() joined by
// NUL bytes, to EOF. EOF without options (the daemon went away, or let
// the standby go) makes it exit.
const OptionsFd = 4

// SyncFd is the descriptor of the pipe on which the monitor tells the
// daemon "ok <init pid>" or "error <why>" once the container was created
// (its init waits on ExecFifo) or failed to be.
const SyncFd = 3

// PauseBinaryFd is the descriptor of the sealed copy of cria-monitor that
// a pause process is exec'd from; the pause closes it first thing. Its
// SyncFd carries its "ok" or "error …" report and its OptionsFd the
// daemon's "go" (see cmd/cria-monitor/pause.go).
const PauseBinaryFd = 5

// The control socket (SocketFile) takes one command per connection, a line,
// and answers "ok" or "error <why>":
//
//	start    the container's init runs the container's command: the monitor
//	         opens the ExecFifo, reads the init's word and removes the fifo,
//	         as `runc start` does. Once answered, the container runs.
//	reopen   the monitor reopens the CRI log file (ReopenContainerLog).
const (
	CommandStart  = "start"
	CommandReopen = "reopen"
)

// Options tell a monitor which container it runs.
type Options struct {
	ID string
	// Dir is the container's run directory (spec, pid, exit, socket).
	Dir string
	// LogPath is the CRI log file, beneath LogRoot (the pod's log
	// directory): it is opened from there without following any symlink.
	// An empty LogRoot means LogPath's own directory.
	LogPath, LogRoot string
	// HelperArgs are what the monitor sends its start helper (the
	// cria-start it started in standby).
	HelperArgs []string
	// ExecFifo is the fifo on which the created container's init waits
	// until the container is started (libcontainer's exec.fifo).
	ExecFifo string
	// Terminal gives the container a pty; its output is logged as stdout.
	// The helper then gets the console socket as fd 3.
	Terminal bool
	// Stdin keeps the container's stdin open for attached clients;
	// StdinOnce closes it when the first client detaches.
	Stdin, StdinOnce bool
}

// Args is o as flags, which the daemon sends a standby monitor on
// OptionsFd.
func (o Options) Args() []string {
	a := []string{"--id", o.ID, "--dir", o.Dir, "--log", o.LogPath}
	if o.LogRoot != "" {
		a = append(a, "--log-root", o.LogRoot)
	}
	for _, h := range o.HelperArgs {
		a = append(a, "--helper-arg", h)
	}
	a = append(a, "--exec-fifo", o.ExecFifo)
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

// ParseArgs reads Options from their flags.
func ParseArgs(args []string) (Options, error) {
	var o Options
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return o, errors.New("flag " + args[i] + " needs a value")
		}
		v := args[i+1]
		switch args[i] {
		case "--id":
			o.ID = v
		case "--dir":
			o.Dir = v
		case "--log":
			o.LogPath = v
		case "--log-root":
			o.LogRoot = v
		case "--helper-arg":
			o.HelperArgs = append(o.HelperArgs, v)
		case "--exec-fifo":
			o.ExecFifo = v
		case "--terminal":
			o.Terminal = v == "true"
		case "--stdin":
			o.Stdin = v == "true"
		case "--stdin-once":
			o.StdinOnce = v == "true"
		default:
			return o, errors.New("unknown flag " + args[i])
		}
	}
	if o.ID == "" || !filepath.IsAbs(o.Dir) || !filepath.IsAbs(o.LogPath) || !filepath.IsAbs(o.ExecFifo) {
		return o, errors.New("--id, and absolute --dir, --log and --exec-fifo, are required")
	}
	if o.LogRoot != "" && !strings.HasPrefix(o.LogPath, filepath.Clean(o.LogRoot)+"/") {
		return o, errors.New("--log must be beneath --log-root")
	}
	return o, nil
}

// Exit is a container init's end, as the monitor records it in ExitFile
// (as JSON).
type Exit struct {
	// Code is the exit status, or 128+signal for a process killed by one.
	Code int `json:"code"`
	// Signal names the signal that killed the process, if any.
	Signal string `json:"signal,omitempty"`
	// FinishedAt is in unix nanoseconds.
	FinishedAt int64 `json:"finished_at"`
}

// JSON encodes e as encoding/json would. Signal names are plain ASCII, so
// Go quoting is JSON quoting for them.
func (e Exit) JSON() []byte {
	b := []byte(`{"code":`)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	if e.Signal != "" {
		b = append(b, `,"signal":`...)
		b = strconv.AppendQuoteToASCII(b, e.Signal)
	}
	b = append(b, `,"finished_at":`...)
	b = strconv.AppendInt(b, e.FinishedAt, 10)
	return append(b, '}')
}

// ReadPid reads a pid file: a pid, and for MonitorPidFile the process's
// start time after it.
func ReadPid(path string) (int, error) {
	pid, _, err := ReadPidStart(path)
	return pid, err
}

// ReadPidStart reads a pid file and the start time it records (0 if none).
func ReadPidStart(path string) (pid int, start uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, 0, errors.New("empty pid file " + path)
	}
	if pid, err = strconv.Atoi(fields[0]); err != nil {
		return 0, 0, err
	}
	if len(fields) > 1 {
		if start, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
			return 0, 0, err
		}
	}
	return pid, start, nil
}

// ProcessStart returns when pid started, in clock ticks since boot: with
// the pid, it names one process for good, where a pid alone is reused. A
// process that has exited (a zombie) gives os.ErrProcessDone.
func ProcessStart(pid int) (uint64, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed " + path)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, errors.New("malformed " + path)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, os.ErrProcessDone
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// SocketPath returns a short path to the socket name in dir, through an
// open descriptor of dir, so that deep directories stay within the 108
// bytes a unix socket path may have. Call release when done with the path.
func SocketPath(dir, name string) (path string, release func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + name, func() { d.Close() }, nil
}

// Attach socket frames: a type byte, a 4-byte big-endian length, the
// payload.
const (
	FrameStdout     byte = 1 // monitor → client
	FrameStderr     byte = 2 // monitor → client
	FrameStdin      byte = 3 // client → monitor
	FrameResize     byte = 4 // client → monitor: width, height as uint16
	FrameStdinClose byte = 5 // client → monitor: the client's stdin ended
)

// MaxFrame bounds a frame's payload.
const MaxFrame = 1 << 20

// Frame returns the frame of type typ carrying p.
func Frame(typ byte, p []byte) []byte {
	b := make([]byte, 5+len(p))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], uint32(len(p)))
	copy(b[5:], p)
	return b
}

// ErrFrameTooLarge is ReadFrame's answer to a length over MaxFrame.
var ErrFrameTooLarge = errors.New("attach frame is too large")

// ReadFrame reads one frame.
func ReadFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, ErrFrameTooLarge
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// Resize is the payload of a FrameResize.
func Resize(width, height uint16) []byte {
	var p [4]byte
	binary.BigEndian.PutUint16(p[0:2], width)
	binary.BigEndian.PutUint16(p[2:4], height)
	return p[:]
}

// ParseResize reads a FrameResize payload.
func ParseResize(p []byte) (width, height uint16, ok bool) {
	if len(p) != 4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4]), true
}
