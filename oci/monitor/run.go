package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/console"
	"github.com/cria-runtime/cria/oci/logfile"
)

// drainTimeout bounds how long the monitor copies output after the init
// exits (other processes may hold the pipes open).
const drainTimeout = 2 * time.Second

// Run is the monitor process. syncPipe is the pipe on which it tells the
// daemon "ok <init pid>" or "error <why>" once the container started or
// failed to. It returns the monitor's exit code.
func Run(o Options, syncPipe *os.File) int {
	report := func(format string, args ...any) {
		fmt.Fprintf(syncPipe, format+"\n", args...)
		syncPipe.Close()
	}
	fail := func(err error) int {
		report("error %v", err)
		return 1
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Dir, MonitorPidFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return fail(err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("becoming a subreaper: %w", err))
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
	ctl, err := listenControl(o.Dir, log)
	if err != nil {
		return fail(err)
	}
	defer ctl.Close()

	helper := exec.Command(o.Helper, o.HelperArgs...)
	helper.Stdin, helper.Stdout, helper.Stderr = devnull, outW, errW
	in := &stdinTarget{once: o.StdinOnce}
	var stdinR *os.File
	if o.Stdin && !o.Terminal {
		if stdinR, in.w, err = os.Pipe(); err != nil {
			return fail(err)
		}
		helper.Stdin = stdinR
	}
	var consoleParent, consoleChild *os.File
	if o.Terminal {
		if consoleParent, consoleChild, err = console.Pair(); err != nil {
			return fail(err)
		}
		defer consoleParent.Close()
		helper.ExtraFiles = []*os.File{consoleChild} // fd 3: ConsoleSocketFd
	}
	helperErr := helper.Run()
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
		why, _ := os.ReadFile(filepath.Join(o.Dir, StartErrorFile))
		if len(why) == 0 {
			why = []byte(helperErr.Error())
		}
		return fail(fmt.Errorf("%s", why))
	}
	pid, err := ReadPid(filepath.Join(o.Dir, PidFile))
	if err != nil {
		return fail(fmt.Errorf("reading the init's pid: %w", err))
	}

	streams := []struct {
		r    *os.File
		name string
	}{{outR, "stdout"}, {errR, "stderr"}}
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
		streams = append(streams, struct {
			r    *os.File
			name string
		}{master, "stdout"})
	}
	attached := &hub{clients: map[chan []byte]struct{}{}}
	attachLn, err := listenAttach(o.Dir)
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
			typ := frameStdout
			if s.name == "stderr" {
				typ = frameStderr
			}
			_, _ = io.Copy(io.MultiWriter(w, attached.writer(typ)), s.r)
			_ = w.Close()
		}()
	}
	report("ok %d", pid)

	exit := reap(pid)
	done := make(chan struct{})
	go func() { copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
	}
	attached.closeAll()
	b, _ := json.Marshal(exit)
	if err := atomicfile.WriteFile(filepath.Join(o.Dir, ExitFile), b, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "cria-monitor: writing the exit record: %v\n", err)
		return 1
	}
	return 0
}

// reap waits for every child re-parented to the monitor until the init
// pid has exited, and returns the init's exit.
func reap(pid int) Exit {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// No children left and the init was never seen: record that
			// its status is unknown rather than wait forever.
			return Exit{Code: 255, FinishedAt: time.Now().UnixNano()}
		}
		if got != pid {
			continue
		}
		e := Exit{FinishedAt: time.Now().UnixNano()}
		if ws.Signaled() {
			e.Code = 128 + int(ws.Signal())
			e.Signal = unix.SignalName(ws.Signal())
		} else {
			e.Code = ws.ExitStatus()
		}
		return e
	}
}

// listenControl serves the control socket: "reopen" reopens the log file.
func listenControl(dir string, log *logfile.File) (net.Listener, error) {
	l, err := listenSocket(dir, SocketFile)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				switch line {
				case "reopen\n":
					if err := log.Reopen(); err != nil {
						fmt.Fprintf(c, "error %v\n", err)
						return
					}
					fmt.Fprintln(c, "ok")
				default:
					fmt.Fprintf(c, "error unknown command %s\n", strconv.Quote(line))
				}
			}()
		}
	}()
	return l, nil
}
