package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOOMKills(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1")
	v2 := filepath.Join(dir, "v2")
	os.MkdirAll(v1, 0o755)
	os.MkdirAll(v2, 0o755)
	os.WriteFile(filepath.Join(v1, "memory.oom_control"), []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), 0o644)
	os.WriteFile(filepath.Join(v2, "memory.events"), []byte("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n"), 0o644)
	for _, tc := range []struct {
		name  string
		paths map[string]string
		want  int
	}{
		{"v1", map[string]string{"memory": v1, "cpu": dir}, 2},
		{"v2", map[string]string{"": v2}, 1},
		{"missing file", map[string]string{"memory": dir}, 0},
		{"no memory controller", map[string]string{"cpu": dir}, 0},
	} {
		if got := OOMKills(tc.paths); got != tc.want {
			t.Errorf("%s: OOMKills = %d, want %d", tc.name, got, tc.want)
		}
	}
}
