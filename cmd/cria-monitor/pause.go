package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// pause is PID 1 of a pod's shared PID namespace: it holds the namespace
// and reaps the zombies that containers' processes leave to it. Every
// container of the pod sees it as /proc/1, so it keeps nothing of the host
// there. The daemon starts it in the pod's network, IPC and UTS namespaces
// and in new PID and mount namespaces; before it does anything else, it
// confines itself (see confine), then says "ok" on wire.SyncFd and waits on
// wire.OptionsFd until the daemon has recorded it: EOF without "go" means
// the daemon died first, and the pause ends rather than be lost.
//
// It ignores every signal but SIGCHLD, so that no process of the pod can
// end it; the daemon ends it with SIGKILL from outside the namespace.
func pause(root string) int {
	unix.Close(wire.PauseBinaryFd)
	report := os.NewFile(wire.SyncFd, "sync")
	signal.Ignore()
	reaped := make(chan os.Signal, 8)
	signal.Notify(reaped, unix.SIGCHLD)
	if err := confine(root); err != nil {
		_, _ = report.WriteString("error " + err.Error() + "\n")
		return 1
	}
	if _, err := report.WriteString("ok\n"); err != nil {
		return 1
	}
	report.Close()
	b, _ := io.ReadAll(os.NewFile(wire.OptionsFd, "go"))
	if string(b) != "go" {
		return 0
	}
	for range reaped {
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return 0
}

// confine leaves the pause with nothing of the host: an empty read-only
// root (a tmpfs mounted over root in its private mount namespace, then
// pivoted into), no standard streams, not dumpable (so /proc/1 needs
// CAP_SYS_PTRACE even from a process of the same uid), no capabilities in
// any set on any thread, no_new_privs, and a seccomp filter that allows
// only what the Go runtime and the reaping loop use.
func confine(root string) error {
	// Before /proc goes, and where the kernel allows it.
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte(pauseOOMScoreAdj), 0)
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return os.NewSyscallError("making its mounts private: mount", err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,nr_inodes=8,mode=0555"); err != nil {
		return os.NewSyscallError("mounting its root: mount", err)
	}
	if err := unix.Chdir(root); err != nil {
		return os.NewSyscallError("chdir", err)
	}
	// pivot_root(".", ".") stacks the old root under the new one; the
	// detach then drops the whole host tree from this namespace.
	if err := unix.PivotRoot(".", "."); err != nil {
		return os.NewSyscallError("pivot_root", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return os.NewSyscallError("detaching the host's root: umount", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return os.NewSyscallError("chdir", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return os.NewSyscallError("making its root read-only: mount", err)
	}
	for fd := 0; fd <= 2; fd++ {
		unix.Close(fd)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_DUMPABLE)", err)
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); e != 0 {
		return os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", e)
	}
	return installSeccomp(pauseSyscalls)
}

// Capability sets are per thread: each change goes to every thread of the
// process (the monitor is built without cgo, which AllThreadsSyscall
// needs). The header and data live on the heap, where the other threads
// can read them.
var (
	capHeader = &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	capData   = &[2]unix.CapUserData{}
)

func dropCapabilities() error {
	for c := 0; c < 64; c++ {
		_, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0)
		if e == unix.EINVAL {
			break // past the kernel's last capability
		}
		if e != 0 {
			return os.NewSyscallError("prctl(PR_CAPBSET_DROP)", e)
		}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 {
		return os.NewSyscallError("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e)
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(capHeader)), uintptr(unsafe.Pointer(capData)), 0); e != 0 {
		return os.NewSyscallError("capset", e)
	}
	return nil
}

// installSeccomp loads a filter on every thread (TSYNC) that allows the
// listed system calls of this architecture, kills the process for a call
// from any other architecture (or amd64's x32 ABI), and fails every other
// call with EPERM. The caller has set no_new_privs.
func installSeccomp(allowed []uintptr) error {
	filter := seccompFilter(auditArch, allowed)
	prog := &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(prog)))
	if e != 0 {
		return os.NewSyscallError("seccomp", e)
	}
	return nil
}

// seccompFilter is the classic BPF program of installSeccomp:
//
//	load arch; arch == want ? next : kill
//	load nr;   nr >= x32 bit ? deny : next
//	nr == a0 ? allow : next; ... nr == aN ? allow : next
//	deny: EPERM
//	allow
func seccompFilter(arch uint32, allowed []uintptr) []unix.SockFilter {
	const (
		ldAbs  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		retK   = unix.BPF_RET | unix.BPF_K
		x32Bit = 0x40000000
		// offsetof(struct seccomp_data, nr), offsetof(..., arch)
		nrOffset, archOffset = 0, 4
	)
	n := len(allowed)
	f := []unix.SockFilter{
		{Code: ldAbs, K: archOffset},
		{Code: jeqK, K: arch, Jt: 1},
		{Code: retK, K: unix.SECCOMP_RET_KILL_PROCESS},
		{Code: ldAbs, K: nrOffset},
		{Code: jgeK, K: x32Bit, Jt: uint8(n)},
	}
	for i, nr := range allowed {
		f = append(f, unix.SockFilter{Code: jeqK, K: uint32(nr), Jt: uint8(n - i)})
	}
	return append(f,
		unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		unix.SockFilter{Code: retK, K: unix.SECCOMP_RET_ALLOW},
	)
}

// pauseSyscalls are what the pause makes once confined: its reaping loop
// (wait4 on SIGCHLD, read of the go pipe, write and close of the report),
// and the Go runtime's threads, memory, signals, timers and scheduler.
var pauseSyscalls = append([]uintptr{
	unix.SYS_READ, unix.SYS_WRITE, unix.SYS_CLOSE, unix.SYS_WAIT4, unix.SYS_WAITID,
	unix.SYS_FUTEX, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP, unix.SYS_CLOCK_GETTIME, unix.SYS_GETTIMEOFDAY,
	unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY,
	unix.SYS_RT_SIGRETURN, unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_SIGALTSTACK,
	unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MADVISE, unix.SYS_MPROTECT, unix.SYS_BRK,
	unix.SYS_CLONE, unix.SYS_GETTID, unix.SYS_GETPID, unix.SYS_TGKILL, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
	unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_CREATE1, unix.SYS_EVENTFD2, unix.SYS_PIPE2,
	unix.SYS_FCNTL, unix.SYS_GETRANDOM, unix.SYS_RESTART_SYSCALL, unix.SYS_PRLIMIT64,
}, archSyscalls...)
