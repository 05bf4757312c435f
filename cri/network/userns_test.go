package network

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// inode returns the namespace inode that fd refers to.
func inode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestCreateNamespacesInUserNamespace: a pod's user namespace is made with
// its mappings and owns the pod's network, IPC and UTS namespaces, which
// are set up (hostname, loopback, sysctls of both kinds) and pinned; the
// pins are released, and nothing is left. It needs root, as the daemon.
func TestCreateNamespacesInUserNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the test makes namespaces and mounts: run it as root, as make test does")
	}
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	dir := t.TempDir()
	// Several times: the process that makes the namespaces must live
	// until they are pinned, whichever threads the runtime hands out.
	for range 5 {
		ns, err := CreateNamespaces(NamespaceRequest{
			Dir: dir, Net: true, IPC: true, UTS: true, Hostname: "pod-host",
			User:    &IDMappings{UIDs: m, GIDs: m},
			Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "80", "kernel.shm_rmid_forced": "1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		user, err := unix.Open(ns.User, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{ns.Net, ns.IPC, ns.UTS} {
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			owner, err := unix.IoctlRetInt(fd, unix.NS_GET_USERNS)
			if err != nil {
				t.Fatal(err)
			}
			if inode(t, owner) != inode(t, user) {
				t.Errorf("%s is not owned by the pod's user namespace", p)
			}
			unix.Close(owner)
			unix.Close(fd)
		}
		if uid, err := unix.IoctlGetUint32(user, unix.NS_GET_OWNER_UID); err != nil || uid != 0 {
			t.Errorf("the user namespace's owner: %d, %v", uid, err)
		}
		unix.Close(user)

		var got []string
		err = inThrowawayThread(func() error {
			for _, j := range []struct {
				path string
				kind int
			}{{ns.Net, unix.CLONE_NEWNET}, {ns.IPC, unix.CLONE_NEWIPC}, {ns.UTS, unix.CLONE_NEWUTS}} {
				if err := joinNamespace(j.path, j.kind); err != nil {
					return err
				}
			}
			var u unix.Utsname
			if err := unix.Uname(&u); err != nil {
				return err
			}
			got = append(got, unix.ByteSliceToString(u.Nodename[:]))
			for _, f := range []string{"/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shm_rmid_forced"} {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				got = append(got, strings.TrimSpace(string(b)))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != "pod-host 80 1" {
			t.Errorf("hostname and sysctls inside: %q, want \"pod-host 80 1\"", got)
		}
		if err := ReleaseNamespaces(ns); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("left after release: %v", left)
		}
	}
}

func TestProbeIDMappedMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("run as root, as make test does")
	}
	// The machines cria is tested on (Linux 6.18, ext4, tmpfs) can.
	if err := ProbeIDMappedMounts(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestIPCSysctl(t *testing.T) {
	for key, want := range map[string]bool{
		"kernel.shm_rmid_forced": true, "kernel.msgmax": true, "kernel.sem": true, "fs.mqueue.msg_max": true,
		"fs/mqueue/queues_max": true, "net.ipv4.ip_forward": false, "kernel.domainname": false, "kernel.shmall": true,
	} {
		if got := ipcSysctl(key); got != want {
			t.Errorf("ipcSysctl(%q) = %v", key, got)
		}
	}
}
