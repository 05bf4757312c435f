// Package network makes a pod's namespaces and its CNI network. It is the
// one home of libcni.
package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// NamespaceRequest says which namespaces a pod gets of its own (the others
// are the host's) and what to set inside them.
type NamespaceRequest struct {
	// Dir receives the pin files (Dir/net, Dir/ipc, Dir/uts, Dir/user).
	Dir           string
	Net, IPC, UTS bool
	// User, when set, gives the pod a user namespace of its own with
	// these mappings, which owns its other new namespaces.
	User *IDMappings
	// Hostname is set in the new UTS namespace.
	Hostname string
	// Sysctls are written inside the new namespaces. The caller has
	// checked that each belongs to a namespace the pod owns.
	Sysctls map[string]string
}

// Namespaces are the pin files of a pod's own namespaces; an empty path
// means the host's namespace.
type Namespaces struct {
	Net, IPC, UTS, User string
	// PID is the pod's shared PID namespace, pinned by PinPIDNamespace.
	PID string
}

// CreateNamespaces makes new network, IPC and UTS namespaces as asked, sets
// the hostname, brings loopback up, applies the sysctls and pins each
// namespace by bind-mounting it onto a file under req.Dir, as CRI-O's pinns
// does, so that it outlives every process in it. On error nothing is left.
func CreateNamespaces(req NamespaceRequest) (Namespaces, error) {
	if req.User != nil {
		return createInUserNamespace(req)
	}
	var flags int
	var kinds []string
	if req.Net {
		flags |= unix.CLONE_NEWNET
		kinds = append(kinds, "net")
	}
	if req.IPC {
		flags |= unix.CLONE_NEWIPC
		kinds = append(kinds, "ipc")
	}
	if req.UTS {
		flags |= unix.CLONE_NEWUTS
		kinds = append(kinds, "uts")
	}
	if flags == 0 {
		return Namespaces{}, nil
	}
	if err := os.MkdirAll(req.Dir, 0o700); err != nil {
		return Namespaces{}, err
	}
	var ns Namespaces
	err := inThrowawayThread(func() error {
		if err := unix.Unshare(flags); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		if err := req.setUp(); err != nil {
			return err
		}
		tid := unix.Gettid()
		for _, kind := range kinds {
			pin := filepath.Join(req.Dir, kind)
			if err := pinNamespace(fmt.Sprintf("/proc/self/task/%d/ns/%s", tid, kind), pin); err != nil {
				return err
			}
			switch kind {
			case "net":
				ns.Net = pin
			case "ipc":
				ns.IPC = pin
			case "uts":
				ns.UTS = pin
			}
		}
		return nil
	})
	if err != nil {
		_ = ReleaseNamespaces(ns)
		return Namespaces{}, err
	}
	return ns, nil
}

// inThrowawayThread runs fn on an OS thread of its own that is never
// returned to the Go scheduler: whatever namespaces fn joins or makes die
// with the thread when fn returns.
func inThrowawayThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: Go ends a locked thread when its goroutine
		// exits, so the changed namespaces never leak to other goroutines.
		errc <- fn()
	}()
	return <-errc
}

// InNetNS runs fn in the network namespace pinned at path.
func InNetNS(path string, fn func() error) error {
	return inThrowawayThread(func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", path, err)
		}
		return fn()
	})
}

// PinPIDNamespace pins the PID namespace of process pid at pin. The caller
// knows pid to be the process it started (it has not been reaped).
func PinPIDNamespace(pid int, pin string) error {
	return pinNamespace(fmt.Sprintf("/proc/%d/ns/pid", pid), pin)
}

func pinNamespace(src, pin string) error {
	f, err := os.OpenFile(pin, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o400)
	if err != nil {
		return fmt.Errorf("creating namespace pin %s: %w", pin, err)
	}
	f.Close()
	if err := unix.Mount(src, pin, "", unix.MS_BIND, ""); err != nil {
		os.Remove(pin)
		return fmt.Errorf("pinning %s at %s: %w", src, pin, err)
	}
	return nil
}

// ReleaseNamespaces unpins ns; a namespace dies when its last process has
// gone too. Releasing what is already released succeeds.
func ReleaseNamespaces(ns Namespaces) error {
	var errs []error
	for _, p := range []string{ns.Net, ns.IPC, ns.UTS, ns.PID, ns.User} {
		if p == "" {
			continue
		}
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unpinning %s: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// IsPinned tells whether path still holds a namespace.
func IsPinned(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// writeSysctl writes a sysctl for the calling thread's namespaces.
func writeSysctl(key, value string) error {
	p := "/proc/sys/" + key
	if !strings.Contains(key, "/") {
		p = "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	}
	err := os.WriteFile(p, []byte(value), 0o644)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("config.linux.sysctls: %q does not exist in the pod's namespaces: %w", key, errdefs.ErrInvalidArgument)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ERANGE):
		return fmt.Errorf("config.linux.sysctls[%s]: the kernel refuses %q: %w", key, value, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
}

// LinkUp sets the IFF_UP flag of the named interface in the calling
// thread's network namespace.
func LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing %s up: %w", name, err)
	}
	return nil
}
