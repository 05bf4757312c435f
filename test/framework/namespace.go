// Package framework is cria's test harness: it runs each test binary in
// namespaces of its own, starts real daemons on real sockets, serves images
// from a local registry on loopback, and builds those images from Debian's
// busybox-static. Everything it makes is released in t.Cleanup.
//
// A test package that uses it calls Main from TestMain:
//
//	func TestMain(m *testing.M) { framework.Main(m) }
package framework

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/cri/network"
)

// nsEnv marks the re-executed test binary that already runs inside the
// namespaces Main makes.
const nsEnv = "CRIA_TEST_IN_NAMESPACES"

// Main runs the tests of m inside fresh network, mount and IPC namespaces,
// then exits with their status.
//
// The test binary re-executes itself into the new namespaces, so that the
// test process, the daemons and registries it starts and every pod they make
// share one network namespace that contains only a loopback interface (up):
// no test traffic can leave it, and it vanishes when the tests end. In the
// new mount namespace "/" is made private and then shared again, so mounts
// the tests make never propagate to the host, while mount-propagation tests
// still see a shared root. The IPC namespace keeps shared-memory segments
// from leaking. Tests need root.
func Main(m *testing.M) {
	if os.Getenv(nsEnv) == "" {
		os.Exit(reexecInNamespaces())
	}
	if err := setUpNamespaces(); err != nil {
		fmt.Fprintf(os.Stderr, "framework: setting up the test namespaces: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func reexecInNamespaces() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "framework: these tests run real containers and need root (run them with sudo, or `make test` as root)")
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "framework: %v\n", err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), nsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "framework: running tests in new namespaces: %v\n", err)
		return 1
	}
	return 0
}

func setUpNamespaces() error {
	// Cut propagation to and from the host first, then share within.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("making / shared: %w", err)
	}
	if err := network.LinkUp("lo"); err != nil {
		return err
	}
	// Guard: only loopback may exist here, or traffic could leave.
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			return fmt.Errorf("unexpected interface %q in the test network namespace", i.Name)
		}
	}
	return nil
}
