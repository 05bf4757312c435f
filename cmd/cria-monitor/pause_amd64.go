package main

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this build's system calls.
const auditArch = unix.AUDIT_ARCH_X86_64

// archSyscalls are the pause's system calls that only this architecture has.
var archSyscalls = []uintptr{unix.SYS_EPOLL_WAIT, unix.SYS_ARCH_PRCTL}
