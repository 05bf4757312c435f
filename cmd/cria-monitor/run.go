package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/console"
	"github.com/cria-runtime/cria/oci/logfile"
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// The monitor is started detached (its own session) and outlives the
// daemon. It makes itself a child subreaper, runs the start helper with
// the container's stdio pipes, and, once the helper has created the
// container and exited, is the parent of the container's init, which waits
// on its exec fifo. It starts the container when the daemon says so, copies
// the init's output into the CRI log file and to attached clients, reopens
// the log file on request, reaps the init and writes its exit record
// durably, then exits.

// drainTimeout bounds how long the monitor copies output after the init
// exits (other processes may hold the pipes open).
const drainTimeout = 2 * time.Second

// helper is a start helper started ahead of its container ("cria-start
// standby"), with the pipes that become the container's stdio.
type helper struct {
	proc       *os.Process
	args       *os.File // the helper's arguments pipe; closed once sent
	outR, errR *os.File // the container's stdout and stderr
	stdinW     *os.File // the container's stdin, if it keeps one
	console    *os.File // the console socket's monitor end
}

// startHelper starts the helper binary in standby: it initialises and waits
// for its arguments on wire.HelperArgsFd.
func startHelper(path string) (_ *helper, retErr error) {
	h := &helper{}
	var theirs []*os.File // the helper's ends: closed here once it has them
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
		if retErr != nil {
			h.close()
		}
	}()
	pipe := func(mine **os.File, mineReads bool) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		if mineReads {
			*mine = r
			theirs = append(theirs, w)
			return w, nil
		}
		*mine = w
		theirs = append(theirs, r)
		return r, nil
	}
	outW, err := pipe(&h.outR, true)
	if err != nil {
		return nil, err
	}
	errW, err := pipe(&h.errR, true)
	if err != nil {
		return nil, err
	}
	stdinR, err := pipe(&h.stdinW, false)
	if err != nil {
		return nil, err
	}
	argsR, err := pipe(&h.args, false)
	if err != nil {
		return nil, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	theirs = append(theirs, devnull)
	var consoleChild *os.File
	if h.console, consoleChild, err = console.Pair(); err != nil {
		return nil, err
	}
	theirs = append(theirs, consoleChild)
	// fds 0-2, wire.ConsoleSocketFd, wire.HelperArgsFd, wire.HelperStdinFd
	h.proc, err = os.StartProcess(path, []string{path, "standby"}, &os.ProcAttr{
		Files: []*os.File{devnull, outW, errW, consoleChild, argsR, stdinR},
		Env:   wire.HelperEnv(os.Environ()),
	})
	return h, err
}

// send hands the helper its arguments, and the container is created.
func (h *helper) send(args []string) error {
	_, err := h.args.WriteString(strings.Join(args, "\x00"))
	if cerr := h.args.Close(); err == nil {
		err = cerr
	}
	return err
}

// wait waits for the helper to create the container and exit.
func (h *helper) wait() error {
	st, err := h.proc.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return errors.New("start helper: " + st.String())
	}
	return nil
}

// close lets an unused helper go (it exits on an empty argument list) and
// closes the monitor's ends of the container's stdio.
func (h *helper) close() {
	for _, f := range []*os.File{h.args, h.outR, h.errR, h.stdinW, h.console} {
		if f != nil {
			f.Close()
		}
	}
	if h.proc != nil {
		_, _ = h.proc.Wait()
	}
}

// run is the monitor process, for the container o, with its helper h
// waiting in standby. On syncPipe it tells the daemon "ok <init pid>" or
// "error <why>" once the container was created or failed to be. It
// returns the monitor's exit code.
func run(o wire.Options, h *helper, syncPipe *os.File) int {
	report := func(line string) {
		_, _ = syncPipe.WriteString(line + "\n")
		syncPipe.Close()
	}
	sent := false
	fail := func(err error) int {
		if !sent {
			h.close()
		}
		report("error " + err.Error())
		return 1
	}
	start, err := wire.ProcessStart(os.Getpid())
	if err != nil {
		return fail(err)
	}
	self := strconv.Itoa(os.Getpid()) + " " + strconv.FormatUint(start, 10)
	// Atomic but not durable: after a reboot the pid means nothing.
	if err := atomicfile.Replace(filepath.Join(o.Dir, wire.MonitorPidFile), []byte(self), 0o600); err != nil {
		return fail(err)
	}
	// The monitor's own complaints go beside the container's files.
	if f, err := os.OpenFile(filepath.Join(o.Dir, wire.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		_ = unix.Dup3(int(f.Fd()), 2, 0)
		f.Close()
	}
	log, err := logfile.Open(o.LogRoot, o.LogPath, func(msg string) { os.Stderr.WriteString("cria-monitor: " + msg + "\n") })
	if err != nil {
		return fail(err)
	}
	defer log.Close()
	ctl, err := listen(o.Dir, wire.SocketFile)
	if err != nil {
		return fail(err)
	}
	defer ctl.Close()
	attachLn, err := listen(o.Dir, wire.AttachSocketFile)
	if err != nil {
		return fail(err)
	}
	defer attachLn.Close()

	in := &stdinTarget{once: o.StdinOnce}
	args := o.HelperArgs
	if o.Stdin && !o.Terminal {
		in.w = h.stdinW
		args = append(args, "--stdin")
	} else {
		h.stdinW.Close()
	}
	sent = true
	helperErr := h.send(args)
	if err := h.wait(); helperErr == nil {
		helperErr = err
	}
	defer h.console.Close()
	if helperErr != nil {
		why, _ := os.ReadFile(filepath.Join(o.Dir, wire.StartErrorFile))
		if len(why) == 0 {
			why = []byte(helperErr.Error())
		}
		return fail(errors.New(string(why)))
	}
	pid, err := wire.ReadPid(filepath.Join(o.Dir, wire.PidFile))
	if err != nil {
		return fail(errors.New("reading the init's pid: " + err.Error()))
	}
	// The container exists. If this monitor cannot serve it, it must not
	// go on without one: kill the init (this process's child, so its pid
	// cannot have been reused) and reap it before saying why.
	abort := func(err error) int {
		_ = unix.Kill(pid, unix.SIGKILL)
		reap(pid)
		return fail(err)
	}

	type stream struct {
		r    *os.File
		name string
		typ  byte
	}
	streams := []stream{{h.outR, "stdout", wire.FrameStdout}, {h.errR, "stderr", wire.FrameStderr}}
	if o.Terminal {
		master, err := console.Receive(h.console)
		if err != nil {
			return abort(err)
		}
		in.tty = master
		if o.Stdin {
			in.w = master
		}
		// A terminal has one stream; reading it fails with EIO once the
		// container's side is closed, which ends the copy.
		streams = append(streams, stream{master, "stdout", wire.FrameStdout})
	}
	attached := &hub{clients: map[chan []byte]struct{}{}}
	go serveAttach(attachLn, attached, in)

	var copies sync.WaitGroup
	for _, s := range streams {
		copies.Add(1)
		go func() {
			defer copies.Done()
			w := log.Stream(s.name)
			_, _ = io.Copy(io.MultiWriter(w, hubWriter{attached, s.typ}), s.r)
			_ = w.Close()
		}()
	}
	exited := make(chan struct{})
	var starting sync.Mutex
	go serveControl(ctl, log, o.ExecFifo, exited, &starting)
	report("ok " + strconv.Itoa(pid))

	exit := reap(pid)
	close(exited)
	done := make(chan struct{})
	go func() { copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
	}
	attached.closeAll()
	// A start in flight is answered before the monitor goes: an init that
	// ran its command and ended at once was started, and the daemon must
	// hear "ok", not the end of the connection.
	starting.Lock()
	if err := atomicfile.WriteFile(filepath.Join(o.Dir, wire.ExitFile), exit.JSON(), 0o600); err != nil {
		os.Stderr.WriteString("cria-monitor: writing the exit record: " + err.Error() + "\n")
		return 1
	}
	return 0
}

// reap waits for every child re-parented to the monitor until the init
// pid has exited, and returns the init's exit.
func reap(pid int) wire.Exit {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// No children left and the init was never seen: record that
			// its status is unknown rather than wait forever.
			return wire.Exit{Code: 255, FinishedAt: time.Now().UnixNano()}
		}
		if got != pid {
			continue
		}
		e := wire.Exit{FinishedAt: time.Now().UnixNano()}
		if ws.Signaled() {
			e.Code = 128 + int(ws.Signal())
			e.Signal = unix.SignalName(ws.Signal())
		} else {
			e.Code = ws.ExitStatus()
		}
		return e
	}
}

// serveControl serves the control socket (see wire.CommandStart). exited
// is closed once the container's init has exited. A start holds starting
// until it is answered: one start at a time, and the monitor, which takes
// starting before it exits, does not exit between a start and its answer.
func serveControl(l *listener, log *logfile.File, fifo string, exited <-chan struct{}, starting *sync.Mutex) {
	l.serve(func(c *os.File) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		var cmdErr error
		switch line {
		case wire.CommandStart + "\n":
			starting.Lock()
			defer starting.Unlock()
			cmdErr = startContainer(fifo, exited)
		case wire.CommandReopen + "\n":
			cmdErr = log.Reopen()
		default:
			cmdErr = errors.New("unknown command " + strconv.Quote(strings.TrimSuffix(line, "\n")))
		}
		if cmdErr != nil {
			_, _ = c.WriteString("error " + cmdErr.Error() + "\n")
			return
		}
		_, _ = c.WriteString("ok\n")
	})
}

// startContainer lets the created init run the container's command, as
// `runc start` does: it opens the exec fifo, on which the init waits to
// open the other end, reads to EOF (the init writes "0" and its end closes
// when it execs the command), and removes the fifo, by which libcontainer
// too knows the container started. It fails if the init exits first, or if
// there is no fifo (the container was started already).
func startContainer(fifo string, exited <-chan struct{}) error {
	select {
	case <-exited:
		return errors.New("the container's init has exited")
	default:
	}
	done := make(chan error, 1)
	go func() { done <- readFifo(fifo) }()
	select {
	case err := <-done:
		return err
	case <-exited:
	}
	// The init is gone. A command that ran and ended at once (`true`)
	// left its word in the fifo, which is read at once: that start went
	// through. An init that died before it opened the fifo leaves the
	// open blocked, without a writer (the monitor exits soon).
	select {
	case err := <-done:
		return err
	case <-time.After(startGrace):
		return errors.New("the container's init exited before it started")
	}
}

// startGrace is how long a start whose init has exited still waits for the
// fifo's word: it is there at once if the init got as far as its command.
const startGrace = 500 * time.Millisecond

// readFifo reads the exec fifo's word and removes the fifo.
func readFifo(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return errors.New("the container is not waiting to start: " + path + " is gone")
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16))
	if err != nil {
		return err
	}
	if string(b) != "0" {
		return errors.New("the container's init failed before it ran the command")
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
