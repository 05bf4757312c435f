// Command cria-start creates one container for its monitor, and is
// libcontainer's container init. It links libcontainer and little else, so
// that the two execs each container costs (this helper, then the init
// through /proc/self/exe) are cheap.
//
// Usage (by cria-monitor, and by the daemon for exec; never by hand):
//
//	cria-start standby    reads the create's arguments from fd 4, then creates
//	cria-start exec       starts a process in a running container for the
//	                      daemon (ExecSync, Exec) and exits with its status
//	cria-start init
//
// The create's arguments: --id ID --dir DIR --runtime-root ROOT [--systemd]
// [--terminal] [--stdin]. A monitor starts its helper in standby ahead of
// the container, so that the helper's exec and runtime start-up are paid
// before the container is known (see wire.HelperArgsFd).
//
// The helper leaves the container created, as `runc create` does: its init
// has set everything up and waits on the exec fifo, which the monitor opens
// when the daemon starts the container (wire.CommandStart).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/monitor/wire"
	"github.com/cria-runtime/cria/oci/runtime"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitArg {
		// The init lives only until it execs the container's command,
		// which discards its heap: collecting garbage would only delay
		// the start.
		debug.SetGCPercent(-1)
		runtime.Init() // does not return
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "standby" {
		os.Exit(standby())
	}
	if len(os.Args) == 2 && os.Args[1] == "exec" {
		// It allocates little, then only waits for its process.
		debug.SetGCPercent(-1)
		os.Exit(runtime.ExecHelper())
	}
	fmt.Fprintln(os.Stderr, "usage: cria-start standby | cria-start exec | cria-start init")
	os.Exit(2)
}

// standby prepares for a create, then waits for the create's arguments,
// NUL-separated, until its monitor closes the pipe; no arguments means the
// create was called off.
func standby() int {
	runtime.Prepare()
	// The create itself allocates a few megabytes at most and this process
	// exits after it: no collections on the way.
	debug.SetGCPercent(-1)
	b, err := io.ReadAll(os.NewFile(wire.HelperArgsFd, "args"))
	if err != nil || len(b) == 0 {
		return 0
	}
	return create(strings.Split(string(b), "\x00"))
}

// create creates the container from its spec with this process's stdio
// and writes the init's pid. Failures are explained in the container's
// start-error file, since standard error is the container's.
func create(args []string) int {
	fs := flag.NewFlagSet("cria-start", flag.ContinueOnError)
	id := fs.String("id", "", "container id")
	dir := fs.String("dir", "", "the container's run directory")
	root := fs.String("runtime-root", "", "libcontainer's state root")
	systemd := fs.Bool("systemd", false, "use the systemd cgroup driver")
	terminal := fs.Bool("terminal", false, "give the container a pty, sent over the console socket on fd 3")
	stdin := fs.Bool("stdin", false, "give the container the pipe on fd 5 as its stdin (else /dev/null)")
	err := fs.Parse(args)
	if err == nil && (*id == "" || !filepath.IsAbs(*dir) || !filepath.IsAbs(*root)) {
		err = errors.New("--id, --dir and --runtime-root are required")
	}
	if err == nil {
		err = createContainer(*id, *dir, *root, *systemd, *terminal, *stdin)
	}
	if err != nil {
		if *dir != "" {
			_ = os.WriteFile(filepath.Join(*dir, wire.StartErrorFile), []byte(err.Error()), 0o600)
		}
		return 1
	}
	return 0
}

func createContainer(id, dir, root string, systemd, terminal, withStdin bool) error {
	b, err := os.ReadFile(filepath.Join(dir, wire.SpecFile))
	if err != nil {
		return err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("reading spec: %w", err)
	}
	rt := &runtime.Runtime{Root: root, Systemd: systemd}
	var console *os.File
	if terminal {
		console = os.NewFile(wire.ConsoleSocketFd, "console-socket")
	}
	stdin := os.Stdin
	if withStdin {
		stdin = os.NewFile(wire.HelperStdinFd, "stdin")
	}
	pid, err := rt.Create(id, &spec, stdin, os.Stdout, os.Stderr, console)
	if err != nil {
		return err
	}
	// A pid means nothing after a reboot: no need to wait for the disk.
	return atomicfile.Replace(filepath.Join(dir, wire.PidFile), []byte(strconv.Itoa(pid)), 0o600)
}
