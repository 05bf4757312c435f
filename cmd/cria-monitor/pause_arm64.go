package main

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this build's system calls.
const auditArch = unix.AUDIT_ARCH_AARCH64

// archSyscalls are the pause's system calls that only this architecture has.
var archSyscalls []uintptr
