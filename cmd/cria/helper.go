package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/cria-runtime/cria/oci/atomicfile"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/runtime"
)

// startHelperArg is the hidden mode in which a container's monitor runs
// cria: create and start the container from its spec with this process's
// stdio, write the init's pid, and exit.
const startHelperArg = "start-helper"

// startHelper is that mode. Failures are explained in the container's
// start-error file, since standard error is the container's.
func startHelper(args []string) int {
	fs := flag.NewFlagSet(startHelperArg, flag.ContinueOnError)
	id := fs.String("id", "", "container id")
	dir := fs.String("dir", "", "the container's run directory")
	root := fs.String("runtime-root", "", "libcontainer's state root")
	systemd := fs.Bool("systemd", false, "use the systemd cgroup driver")
	terminal := fs.Bool("terminal", false, "give the container a pty, sent over the console socket on fd 3")
	err := fs.Parse(args)
	if err == nil && (*id == "" || !filepath.IsAbs(*dir) || !filepath.IsAbs(*root)) {
		err = errors.New("--id, --dir and --runtime-root are required")
	}
	if err == nil {
		err = helperStart(*id, *dir, *root, *systemd, *terminal)
	}
	if err != nil {
		if *dir != "" {
			_ = os.WriteFile(filepath.Join(*dir, monitor.StartErrorFile), []byte(err.Error()), 0o600)
		}
		return 1
	}
	return 0
}

func helperStart(id, dir, root string, systemd, terminal bool) error {
	b, err := os.ReadFile(filepath.Join(dir, monitor.SpecFile))
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
		console = os.NewFile(monitor.ConsoleSocketFd, "console-socket")
	}
	pid, err := rt.Start(id, &spec, os.Stdin, os.Stdout, os.Stderr, console)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, monitor.PidFile), []byte(strconv.Itoa(pid)), 0o600)
}
