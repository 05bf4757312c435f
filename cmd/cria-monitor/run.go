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
// the container's stdio pipes, and, once the helper has started the
// container and exited, is the parent of the container's init. It copies
// the init's output into the CRI log file and to attached clients, reopens
// the log file on request, reaps the init and writes its exit record
// durably, then exits.

// drainTimeout bounds how long the monitor copies output after the init
// exits (other processes may hold the pipes open).
const drainTimeout = 2 * time.Second

// run is the monitor process. On syncPipe it tells the daemon "ok <init
// pid>" or "error <why>" once the container started or failed to. It
// returns the monitor's exit code.
func run(o wire.Options, syncPipe *os.File) int {
	report := func(line string) {
		_, _ = syncPipe.WriteString(line + "\n")
		syncPipe.Close()
	}
	fail := func(err error) int {
		report("error " + err.Error())
		return 1
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Dir, wire.MonitorPidFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return fail(err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(os.NewSyscallError("becoming a subreaper: prctl", err))
	}
	log, err := logfile.Open(o.LogPath)
	if err != nil {
		return fail(err)
	}
	defer log.Close()

	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	ctl, err := listen(o.Dir, wire.SocketFile)
	if err != nil {
		return fail(err)
	}
	defer ctl.Close()
	go serveControl(ctl, log)

	files := []*os.File{devnull, outW, errW}
	in := &stdinTarget{once: o.StdinOnce}
	var stdinR *os.File
	if o.Stdin && !o.Terminal {
		if stdinR, in.w, err = os.Pipe(); err != nil {
			return fail(err)
		}
		files[0] = stdinR
	}
	var consoleParent, consoleChild *os.File
	if o.Terminal {
		if consoleParent, consoleChild, err = console.Pair(); err != nil {
			return fail(err)
		}
		defer consoleParent.Close()
		files = append(files, consoleChild) // fd 3: wire.ConsoleSocketFd
	}
	helperErr := runHelper(o, files)
	if consoleChild != nil {
		consoleChild.Close()
	}
	if stdinR != nil {
		stdinR.Close() // the container holds its own copy
	}
	// Only the container holds the write ends now.
	outW.Close()
	errW.Close()
	devnull.Close()
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

	type stream struct {
		r    *os.File
		name string
		typ  byte
	}
	streams := []stream{{outR, "stdout", wire.FrameStdout}, {errR, "stderr", wire.FrameStderr}}
	if o.Terminal {
		master, err := console.Receive(consoleParent)
		if err != nil {
			return fail(err)
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
	attachLn, err := listen(o.Dir, wire.AttachSocketFile)
	if err != nil {
		return fail(err)
	}
	defer attachLn.Close()
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
	report("ok " + strconv.Itoa(pid))

	exit := reap(pid)
	done := make(chan struct{})
	go func() { copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
	}
	attached.closeAll()
	if err := atomicfile.WriteFile(filepath.Join(o.Dir, wire.ExitFile), exit.JSON(), 0o600); err != nil {
		os.Stderr.WriteString("cria-monitor: writing the exit record: " + err.Error() + "\n")
		return 1
	}
	return 0
}

// runHelper runs the start helper with files as its descriptors 0, 1, 2
// (and 3) and waits for it: it creates and starts the container, and exits.
func runHelper(o wire.Options, files []*os.File) error {
	p, err := os.StartProcess(o.Helper, append([]string{o.Helper}, o.HelperArgs...), &os.ProcAttr{Files: files})
	if err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return errors.New("start helper: " + st.String())
	}
	return nil
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

// serveControl serves the control socket: "reopen" reopens the log file.
func serveControl(l *listener, log *logfile.File) {
	for {
		c, err := l.accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			switch line {
			case "reopen\n":
				if err := log.Reopen(); err != nil {
					_, _ = c.WriteString("error " + err.Error() + "\n")
					return
				}
				_, _ = c.WriteString("ok\n")
			default:
				_, _ = c.WriteString("error unknown command " + strconv.Quote(strings.TrimSuffix(line, "\n")) + "\n")
			}
		}()
	}
}
