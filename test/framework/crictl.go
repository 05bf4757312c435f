package framework

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Crictl runs crictl (from $CRICTL, or PATH) against d with args and returns
// its standard output. It fails the test if crictl fails or is missing.
func (d *Daemon) Crictl(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := d.CrictlResult(t, args...)
	if err != nil {
		t.Fatalf("crictl %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
	}
	return out
}

// CrictlResult runs crictl against d and returns its outputs and error
// without failing the test.
func (d *Daemon) CrictlResult(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := os.Getenv("CRICTL")
	if bin == "" {
		if bin, err = exec.LookPath("crictl"); err != nil {
			t.Fatalf("crictl not found: set $CRICTL or run `make tools` (it installs the pinned crictl into bin/)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--runtime-endpoint", d.Endpoint(), "--image-endpoint", d.Endpoint(), "--timeout", "60s"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	// crictl warns on stderr when /etc/crictl.yaml is missing; point it
	// at an empty config of the daemon's own.
	cfg := d.Dir + "/crictl.yaml"
	if _, statErr := os.Stat(cfg); errors.Is(statErr, os.ErrNotExist) {
		_ = os.WriteFile(cfg, []byte("{}\n"), 0o600)
	}
	cmd.Args = append([]string{bin, "--config", cfg}, full...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}
