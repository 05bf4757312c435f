// Package apparmor finds out whether the kernel enforces AppArmor, which
// profiles it has loaded, and loads cria's default profile for containers
// (the RuntimeDefault of the CRI), as containerd and CRI-O load theirs.
// It knows no CRI.
package apparmor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultProfile is the name of cria's profile for containers that ask for
// the runtime's default (or for nothing, unprivileged).
const DefaultProfile = "cria-default"

// Host is where the kernel's AppArmor state is read from; "/" on a real
// host, a fixture directory in tests.
type Host struct {
	Root string
}

// Enabled tells whether the kernel has AppArmor and enforces it: the
// module's "enabled" parameter is Y. (runc's libcontainer/apparmor
// checks the same file.)
func (h Host) Enabled() bool {
	b, err := os.ReadFile(filepath.Join(h.Root, "sys/module/apparmor/parameters/enabled"))
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// Loaded tells whether a profile of this name is loaded, in any mode.
func (h Host) Loaded(name string) (bool, error) {
	f, err := os.Open(filepath.Join(h.Root, "sys/kernel/security/apparmor/profiles"))
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "<name> (<mode>)"; a name may hold spaces.
		line := sc.Text()
		if i := strings.LastIndex(line, " ("); i >= 0 && line[:i] == name {
			return true, nil
		}
	}
	return false, sc.Err()
}

// LoadDefault loads DefaultProfile with apparmor_parser unless it is
// loaded already.
func (h Host) LoadDefault() error {
	if ok, err := h.Loaded(DefaultProfile); err == nil && ok {
		return nil
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		return errors.New("apparmor_parser is not installed (Debian package apparmor)")
	}
	cmd := exec.Command(parser, "-Kr")
	cmd.Stdin = strings.NewReader(Profile(DefaultProfile))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("loading AppArmor profile %s: %v: %s", DefaultProfile, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Profile is the text of cria's default profile under name: what the
// common container runtimes' defaults allow and deny. Containers may use
// the network, capabilities they hold and files; they may not mount,
// write the kernel's knobs under /proc and /sys (but their own
// /proc/<pid>, /proc/sys/kernel/shm*, and cgroup files), read the kernel's
// memory or trigger sysrq, nor touch /sys/firmware and the security
// filesystem.
func Profile(name string) string {
	return strings.ReplaceAll(profileTemplate, "{{name}}", name)
}

const profileTemplate = `#include <tunables/global>

profile {{name}} flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>

  network,
  capability,
  file,
  umount,
  # Processes of the host may signal the container's; the container's
  # processes may signal and trace each other, nothing else.
  signal (receive) peer=unconfined,
  signal (send,receive) peer={{name}},
  ptrace (trace,read,tracedby,readby) peer={{name}},

  deny mount,

  # /proc: nothing written directly in it, nor under entries that are not a
  # process's; /proc/sys only under kernel/shm*.
  deny @{PROC}/* w,
  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,
  deny @{PROC}/sys/[^k]** w,
  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,

  # /sys: nothing written but the cgroup filesystem.
  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/devices/virtual/powercap/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`
