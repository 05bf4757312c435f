package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// IDMappings are a user namespace's mappings, container ID to host ID.
type IDMappings struct {
	UIDs, GIDs []syscall.SysProcIDMap
}

// HostRoot is the host ID that the namespace's root is: what files that
// container root creates are owned by on the host.
func (m *IDMappings) HostRoot() (uid, gid int) {
	return hostID(m.UIDs, 0), hostID(m.GIDs, 0)
}

func hostID(maps []syscall.SysProcIDMap, id int) int {
	for _, m := range maps {
		if id >= m.ContainerID && id < m.ContainerID+m.Size {
			return m.HostID + id - m.ContainerID
		}
	}
	return -1
}

// createInUserNamespace makes a user namespace with req.User's mappings
// and, owned by it, the network, IPC and UTS namespaces req asks for, so
// that the pod's root can mount sysfs and mqueue in them. A multi-threaded
// process cannot unshare a user namespace, so a child does: it is born in
// the new namespaces and stops at its execve, traced, before it runs
// anything (containerd's UnshareAfterEnterUserns). The namespaces are set
// up and pinned from outside, then the child is killed.
func createInUserNamespace(req NamespaceRequest) (Namespaces, error) {
	var flags uintptr
	if req.Net {
		flags |= unix.CLONE_NEWNET
	}
	if req.IPC {
		flags |= unix.CLONE_NEWIPC
	}
	if req.UTS {
		flags |= unix.CLONE_NEWUTS
	}
	if err := os.MkdirAll(req.Dir, 0o700); err != nil {
		return Namespaces{}, err
	}
	var ns Namespaces
	err := withHolder(flags, req.User, func(pid int) error {
		var err error
		ns, err = PinNamespacesOf(pid, req)
		return err
	})
	return ns, err
}

// withHolder runs fn with the pid of a process in a new user namespace
// with m's mappings and, owned by it, new namespaces of flags. The process
// never runs: it stops, traced, at its execve, and is killed when fn
// returns. Its tracer is the OS thread that started it, which must outlive
// it (a tracer's exit would let it run, and its death signal kill it
// early), so that thread stays locked to this call: Go ends locked
// threads whose goroutine exits, as fn's own throwaway threads do.
func withHolder(flags uintptr, m *IDMappings, fn func(pid int) error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// This thread's own state is never changed: it may serve other
		// goroutines afterwards.
		defer runtime.UnlockOSThread()
		p, err := startHolder(flags, m)
		if err != nil {
			errc <- err
			return
		}
		err = fn(p.Pid)
		_ = p.Kill()
		_, _ = p.Wait()
		errc <- err
	}()
	return <-errc
}

// startHolder starts withHolder's process.
func startHolder(flags uintptr, m *IDMappings) (*os.Process, error) {
	p, err := os.StartProcess("/proc/self/exe", []string{"cria-namespace-holder"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:   unix.CLONE_NEWUSER,
			Unshareflags: flags,
			UidMappings:  m.UIDs,
			GidMappings:  m.GIDs,
			// Containers set their supplementary groups.
			GidMappingsEnableSetgroups: true,
			Ptrace:                     true,
			Pdeathsig:                  syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("starting a process in a new user namespace: %w", err)
	}
	return p, nil
}

// PinNamespacesOf sets up the namespaces of process pid that req names
// (the hostname, loopback, the sysctls) and pins each, the user namespace
// too when req.User is set, under req.Dir. pid is a child of the caller
// that it has not reaped. On error nothing is left pinned.
func PinNamespacesOf(pid int, req NamespaceRequest) (_ Namespaces, retErr error) {
	proc := func(kind string) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, kind) }
	var ns Namespaces
	defer func() {
		if retErr != nil {
			_ = ReleaseNamespaces(ns)
		}
	}()
	err := inThrowawayThread(func() error {
		for _, n := range []struct {
			want bool
			kind string
			flag int
		}{{req.Net, "net", unix.CLONE_NEWNET}, {req.IPC, "ipc", unix.CLONE_NEWIPC}, {req.UTS, "uts", unix.CLONE_NEWUTS}} {
			if !n.want {
				continue
			}
			if err := joinNamespace(proc(n.kind), n.flag); err != nil {
				return err
			}
		}
		return req.setUp()
	})
	if err != nil {
		return Namespaces{}, err
	}
	for _, n := range []struct {
		want bool
		kind string
		dst  *string
	}{{req.User != nil, "user", &ns.User}, {req.Net, "net", &ns.Net}, {req.IPC, "ipc", &ns.IPC}, {req.UTS, "uts", &ns.UTS}} {
		if !n.want {
			continue
		}
		pin := filepath.Join(req.Dir, n.kind)
		if err := pinNamespace(proc(n.kind), pin); err != nil {
			return Namespaces{}, err
		}
		*n.dst = pin
	}
	return ns, nil
}

// setUp sets the hostname, brings loopback up and writes the sysctls in
// the calling thread's namespaces, which are the ones req asks for. It
// may change the thread's effective uid: call it on a throwaway thread.
func (req NamespaceRequest) setUp() error {
	if req.UTS && req.Hostname != "" {
		if err := unix.Sethostname([]byte(req.Hostname)); err != nil {
			return fmt.Errorf("setting hostname %q: %w", req.Hostname, err)
		}
	}
	if req.Net {
		if err := LinkUp("lo"); err != nil {
			return err
		}
	}
	// The kernel lets only the IPC namespace's own root write its
	// sysctls (not the host's root): those go last, with this
	// thread's effective uid made that root's.
	var ipc []string
	for k, v := range req.Sysctls {
		if req.User != nil && ipcSysctl(k) {
			ipc = append(ipc, k)
			continue
		}
		if err := writeSysctl(k, v); err != nil {
			return err
		}
	}
	if len(ipc) > 0 {
		uid, _ := req.User.HostRoot()
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
			return fmt.Errorf("setresuid: %w", e)
		}
		for _, k := range ipc {
			if err := writeSysctl(k, req.Sysctls[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ipcSysctl tells whether a sysctl belongs to the IPC namespace.
func ipcSysctl(key string) bool {
	key = strings.ReplaceAll(key, "/", ".")
	for _, p := range []string{"kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func joinNamespace(path string, kind int) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, kind); err != nil {
		return fmt.Errorf("joining namespace %s: %w", path, err)
	}
	return nil
}

// ProbeIDMappedMounts tells whether the kernel can idmap a mount of a
// tmpfs (the pod's /dev/shm, Kubernetes' secret volumes) and of the
// filesystem that holds dir (the host paths that volumes bind). It leaves
// nothing behind: the mounts it makes are never attached.
func ProbeIDMappedMounts(dir string) error {
	one := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1 << 30, Size: 1}}
	var userns int
	err := withHolder(0, &IDMappings{UIDs: one, GIDs: one}, func(pid int) error {
		var err error
		userns, err = unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return err
	}
	// The descriptor keeps the namespace after its process is gone.
	defer unix.Close(userns)

	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("tmpfs: fsopen: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("tmpfs: fsconfig: %w", err)
	}
	tmpfs, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tmpfs: fsmount: %w", err)
	}
	defer unix.Close(tmpfs)
	if err := idmap(tmpfs, userns); err != nil {
		return fmt.Errorf("tmpfs: %w", err)
	}

	tree, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("%s: open_tree: %w", dir, err)
	}
	defer unix.Close(tree)
	if err := idmap(tree, userns); err != nil {
		return fmt.Errorf("the filesystem of %s: %w", dir, err)
	}
	return nil
}

func idmap(mountFd, userns int) error {
	err := unix.MountSetattr(mountFd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{
		Attr_set:  unix.MOUNT_ATTR_IDMAP,
		Userns_fd: uint64(userns),
	})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("the kernel cannot idmap it (mount_setattr: %w)", err)
	}
	if err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}
