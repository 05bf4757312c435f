package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The monitor's memory is mostly its text: each of these packages would
// add hundreds of KiB to every running container.
func TestMonitorStaysSmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	for _, heavy := range []string{
		"fmt", "encoding/json", "net", "os/exec", "log/slog",
		"github.com/opencontainers/runc/libcontainer", "google.golang.org/grpc",
		"github.com/cria-runtime/cria/oci/monitor", "github.com/cria-runtime/cria/oci/runtime",
	} {
		if deps[heavy] {
			t.Errorf("cria-monitor imports %s", heavy)
		}
	}
}

func TestHelperEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, []string{"GOMAXPROCS=1"}},
		{"kept, one added", []string{"PATH=/bin", "LANG=C"}, []string{"PATH=/bin", "LANG=C", "GOMAXPROCS=1"}},
		// Go takes the first of duplicate variables: an inherited one
		// must go, not be shadowed.
		{"inherited replaced", []string{"GOMAXPROCS=8", "PATH=/bin", "GOMAXPROCS=4"}, []string{"PATH=/bin", "GOMAXPROCS=1"}},
		{"look-alike kept", []string{"XGOMAXPROCS=8"}, []string{"XGOMAXPROCS=8", "GOMAXPROCS=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := helperEnv(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("helperEnv(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
