package framework

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// CrictlCommand returns a crictl command (from $CRICTL, or PATH) against d,
// with an empty config file of d's own so crictl reads no host config.
// It fails the test if crictl is missing.
func (d *Daemon) CrictlCommand(ctx context.Context, t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	bin := os.Getenv("CRICTL")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("crictl"); err != nil {
			t.Fatalf("crictl not found: set $CRICTL or run `make tools` (it installs the pinned crictl into bin/)")
		}
	}
	cfg := filepath.Join(d.Dir, "crictl.yaml")
	if _, err := os.Stat(cfg); err != nil {
		if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	full := append([]string{"--config", cfg, "--runtime-endpoint", d.Endpoint(), "--image-endpoint", d.Endpoint(), "--timeout", "60s"}, args...)
	return exec.CommandContext(ctx, bin, full...)
}

// Crictl runs crictl against d with args and returns its standard output.
// It fails the test if crictl fails or is missing.
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := d.CrictlCommand(ctx, t, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}
