package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OOMKills returns how many processes the kernel's OOM killer ended in a
// cgroup, given its directories by subsystem (as libcontainer reports
// them: "memory" on v1, "" on v2). It reads memory.oom_control's oom_kill
// (v1, kernel 4.13+) or memory.events (v2).
func OOMKills(paths map[string]string) int {
	if p, ok := paths["memory"]; ok {
		return readKeyed(filepath.Join(p, "memory.oom_control"), "oom_kill")
	}
	if p, ok := paths[""]; ok {
		return readKeyed(filepath.Join(p, "memory.events"), "oom_kill")
	}
	return 0
}

// readKeyed reads "key value" lines and returns key's value, or 0.
func readKeyed(path, key string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
