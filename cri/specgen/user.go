package specgen

import (
	"bufio"
	"bytes"
	"sort"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// User is a container process's identity.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
	// Name is the user's name if the image's passwd knows it.
	Name string
}

// UserRequest is what decides the identity: the CRI security context and
// the image's USER and account files (contents of /etc/passwd and
// /etc/group; either may be empty).
type UserRequest struct {
	Security        *runtimeapi.LinuxContainerSecurityContext
	ImageUser       string
	Passwd, Group   []byte
	PodSupplemental []int64 // supplemental groups from the pod
}

type passwdEntry struct {
	name     string
	uid, gid uint32
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// ResolveUser decides uid, gid and additional gids as the kubelet expects:
// run_as_user / run_as_username override the image's USER; the primary
// group is run_as_group, else the group named in USER, else the user's
// passwd entry, else 0; supplemental groups are the CRI's plus, with the
// Merge policy (the default), the groups /etc/group lists the user in.
func ResolveUser(r UserRequest) (User, error) {
	sc := r.Security
	if sc.GetRunAsGroup() != nil && sc.GetRunAsUser() == nil && sc.GetRunAsUsername() == "" {
		// The CRI requires an error here: the group alone would pair with
		// whatever user the image names.
		return User{}, invalid("config.linux.security_context.run_as_group is set without run_as_user or run_as_username")
	}
	users := parsePasswd(r.Passwd)
	groups := parseGroup(r.Group)

	userPart, groupPart, _ := strings.Cut(r.ImageUser, ":")
	switch {
	case sc.GetRunAsUser() != nil:
		userPart, groupPart = strconv.FormatInt(sc.GetRunAsUser().GetValue(), 10), ""
	case sc.GetRunAsUsername() != "":
		userPart, groupPart = sc.GetRunAsUsername(), ""
	}

	if userPart == "" {
		userPart = "0" // root, looked up like any uid
	}
	var u User
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(n)
		for _, e := range users {
			if e.uid == u.UID {
				u.GID, u.Name = e.gid, e.name
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == userPart {
				u.UID, u.GID, u.Name, found = e.uid, e.gid, e.name, true
				break
			}
		}
		if !found {
			return User{}, invalid("user %q is not in the image's /etc/passwd", userPart)
		}
	}
	if groupPart != "" {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(n)
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return User{}, invalid("group %q is not in the image's /etc/group", groupPart)
			}
		}
	}
	if sc.GetRunAsGroup() != nil {
		u.GID = uint32(sc.GetRunAsGroup().GetValue())
	}

	extra := map[uint32]bool{}
	for _, g := range append(append([]int64(nil), r.PodSupplemental...), sc.GetSupplementalGroups()...) {
		extra[uint32(g)] = true
	}
	if sc.GetSupplementalGroupsPolicy() != runtimeapi.SupplementalGroupsPolicy_Strict && u.Name != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == u.Name {
					extra[g.gid] = true
				}
			}
		}
	}
	delete(extra, u.GID)
	for g := range extra {
		u.AdditionalGids = append(u.AdditionalGids, g)
	}
	sort.Slice(u.AdditionalGids, func(i, j int) bool { return u.AdditionalGids[i] < u.AdditionalGids[j] })
	return u, nil
}

func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 == nil && err2 == nil {
			out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid)})
		}
	}
	return out
}

func parseGroup(b []byte) []groupEntry {
	var out []groupEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		g := groupEntry{name: f[0], gid: uint32(gid)}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out
}

// capabilities are every Linux capability up to CAP_CHECKPOINT_RESTORE.
var capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
	"CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

func allCapabilities() []string { return append([]string(nil), capabilities...) }

// CapabilitiesFromMask names the capabilities set in mask (bit n is
// capability number n), as /proc/<pid>/status shows them.
func CapabilitiesFromMask(mask uint64) []string {
	var out []string
	for i, c := range capabilities {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, c)
		}
	}
	return out
}

func knownCapability(c string) bool {
	for _, k := range capabilities {
		if k == c {
			return true
		}
	}
	return false
}
