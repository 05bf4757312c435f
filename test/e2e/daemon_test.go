package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

func TestSocketIsRootOnly(t *testing.T) {
	d := framework.StartDaemon(t)
	fi, err := os.Stat(d.Config.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want a socket with 0660", fi.Mode())
	}
}

func TestSecondDaemonOnSameSocketIsRefused(t *testing.T) {
	d := framework.StartDaemon(t)
	_, stderr, code := framework.RunCria(t, "--config", d.ConfigPath)
	if code == 0 {
		t.Fatalf("second daemon exited 0, want a refusal")
	}
	want := "in use by another cria (pid "
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, d.Config.Socket) {
		t.Errorf("stderr = %q, want it to name the socket and say %q", stderr, want)
	}
	// The first daemon is unharmed and still serves.
	if _, err := d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Errorf("first daemon stopped answering: %v", err)
	}
}

func TestSocketServedByAnotherProcessIsRefused(t *testing.T) {
	d := framework.NewDaemon(t)
	if err := os.MkdirAll(filepath.Dir(d.Config.Socket), 0o711); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", d.Config.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, stderr, code := framework.RunCria(t, "--config", d.ConfigPath)
	if code == 0 || !strings.Contains(stderr, "served by another process") {
		t.Errorf("exit %d, stderr %q: want a refusal naming another process", code, stderr)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	t.Run("after kill -9", func(t *testing.T) {
		d := framework.StartDaemon(t)
		d.Kill()
		if _, err := os.Stat(d.Config.Socket); err != nil {
			t.Fatalf("a killed daemon should leave its socket behind for this test: %v", err)
		}
		d.Start()
		if _, err := d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("socket file nobody serves", func(t *testing.T) {
		d := framework.NewDaemon(t)
		if err := os.MkdirAll(filepath.Dir(d.Config.Socket), 0o711); err != nil {
			t.Fatal(err)
		}
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.Config.Socket, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close()
		d.Start()
		if _, err := d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a regular file is not replaced", func(t *testing.T) {
		d := framework.NewDaemon(t)
		if err := os.MkdirAll(filepath.Dir(d.Config.Socket), 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d.Config.Socket, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := framework.RunCria(t, "--config", d.ConfigPath)
		if code == 0 || !strings.Contains(stderr, "is not a socket") {
			t.Errorf("exit %d, stderr %q: want a refusal", code, stderr)
		}
		if b, _ := os.ReadFile(d.Config.Socket); string(b) != "precious" {
			t.Errorf("the file at the socket path was changed")
		}
	})
}

func TestSIGTERMExitsZeroAndRemovesSocket(t *testing.T) {
	d := framework.StartDaemon(t)
	if code := d.Stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; log:\n%s", code, d.Log())
	}
	if _, err := os.Stat(d.Config.Socket); !os.IsNotExist(err) {
		t.Errorf("socket still exists after SIGTERM (stat err %v)", err)
	}
	if !strings.Contains(d.Log(), "msg=stopped") {
		t.Errorf("no clean-stop line in the log:\n%s", d.Log())
	}
	// And it can start again on the same socket.
	d.Start()
}

// An open event stream (an evented-PLEG kubelet) neither outlives a
// SIGTERM nor holds the stop for its grace period, and streams are logged
// like the other RPCs.
func TestSIGTERMEndsOpenEventStreams(t *testing.T) {
	d := framework.StartDaemon(t)
	events, err := d.Runtime.GetContainerEvents(context.Background(), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // for the stream to reach its handler
	start := time.Now()
	if code := d.Stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stop took %v with an event stream open, want well under the 10 s grace", el)
	}
	if _, err := events.Recv(); err == nil {
		t.Errorf("the event stream still delivers after the daemon stopped")
	}
	if !strings.Contains(d.Log(), "method=GetContainerEvents") {
		t.Errorf("no log line for the event stream:\n%s", d.Log())
	}
}

func TestBadConfigFailsAtStart(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"unknown key", "root = \"/var/lib/x\"\n\n[log]\nlevel = \"info\"\nverbosity = 3\n", []string{":5:1:", `unknown key "log.verbosity"`}},
		{"wrong type", "socket = \"/run/x.sock\"\ncgroup_driver = 1\n", []string{":2:17:", `key "cgroup_driver" has the wrong type`, "want a string"}},
		{"invalid value", "cgroup_driver = \"cgroupv3\"\n", []string{`cgroup_driver: must be one of`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cria.toml")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := framework.RunCria(t, "--config", path)
			if code == 0 {
				t.Fatalf("cria started with a bad config")
			}
			for _, w := range append([]string{path}, tc.want...) {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
	t.Run("missing explicit file", func(t *testing.T) {
		_, stderr, code := framework.RunCria(t, "--config", "/nonexistent/cria.toml")
		if code == 0 || !strings.Contains(stderr, "/nonexistent/cria.toml") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestCommandLine(t *testing.T) {
	out, _, code := framework.RunCria(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "cria version ") || !strings.Contains(out, "commit: ") {
		t.Errorf("--version: exit %d, output %q", code, out)
	}
	out, _, code = framework.RunCria(t, "config")
	if code != 0 || !strings.Contains(out, "socket = '/run/cria/cria.sock'") || !strings.Contains(out, "[log]") {
		t.Errorf("config: exit %d, output %q", code, out)
	}
	// The printed defaults are a valid config file.
	path := filepath.Join(t.TempDir(), "cria.toml")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	d := framework.NewDaemon(t)
	_, stderr, code := framework.RunCria(t, "--config", path, "--socket", d.Config.Socket, "--root", d.Config.Root,
		"--run-root", d.Config.RunRoot, "--log-level", "nope")
	if code != 2 || !strings.Contains(stderr, "log.level") {
		t.Errorf("bad flag value: exit %d, stderr %q; want 2 naming log.level", code, stderr)
	}
	_, stderr, code = framework.RunCria(t, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}

func TestCrictl(t *testing.T) {
	d := framework.StartDaemon(t)
	out := d.Crictl(t, "version")
	for _, w := range []string{"RuntimeName:  cria", "RuntimeApiVersion:  v1"} {
		if !strings.Contains(out, w) {
			t.Errorf("crictl version output lacks %q:\n%s", w, out)
		}
	}
	out = d.Crictl(t, "info")
	for _, w := range []string{`"RuntimeReady"`, `"NetworkReady"`, `"config"`, d.Config.Socket} {
		if !strings.Contains(out, w) {
			t.Errorf("crictl info output lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(d.Log(), "method=Status") {
		t.Errorf("no per-RPC log line for Status:\n%s", d.Log())
	}
}
