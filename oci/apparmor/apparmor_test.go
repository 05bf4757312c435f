package apparmor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture makes a fake host root with the given files.
func fixture(t *testing.T, files map[string]string) Host {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Host{Root: root}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  bool
	}{
		{"no module", nil, false},
		{"enabled", map[string]string{"sys/module/apparmor/parameters/enabled": "Y\n"}, true},
		{"disabled", map[string]string{"sys/module/apparmor/parameters/enabled": "N\n"}, false},
		{"empty", map[string]string{"sys/module/apparmor/parameters/enabled": ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fixture(t, tc.files).Enabled(); got != tc.want {
				t.Errorf("Enabled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoaded(t *testing.T) {
	h := fixture(t, map[string]string{"sys/kernel/security/apparmor/profiles": "" +
		"cria-default (enforce)\n" +
		"/usr/bin/man (enforce)\n" +
		"k8s apparmor example (complain)\n"})
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"cria-default", true},
		{"/usr/bin/man", true},
		{"k8s apparmor example", true},
		{"cria", false},
		{"enforce", false},
	} {
		if got, err := h.Loaded(tc.name); err != nil || got != tc.want {
			t.Errorf("Loaded(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := fixture(t, nil).Loaded("x"); err == nil {
		t.Error("Loaded without the security filesystem: no error")
	}
}

func TestProfile(t *testing.T) {
	p := Profile("cria-default")
	for _, want := range []string{"profile cria-default flags=", "peer=cria-default,", "deny mount,", "deny @{PROC}/kcore rwklx,", "#include <abstractions/base>"} {
		if !strings.Contains(p, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	if strings.Contains(p, "{{") {
		t.Errorf("profile has an unfilled placeholder:\n%s", p)
	}
}
