package main

import (
	"os/exec"
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
