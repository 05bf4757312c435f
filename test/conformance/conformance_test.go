// Package conformance runs critest, the CRI conformance suite of
// sigs.k8s.io/cri-tools, against a cria daemon started for it, offline: the
// registry hosts critest pulls from are mirrored to a local registry that
// holds substitutes for its images, built from busybox-static and the
// small programs in ./testbin.
//
// The run fails if any spec fails that expected-failures.txt does not list,
// and also if a listed spec passes, so that the list stays true.
package conformance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

// critestBinary is critest, built by `make conformance` (go test -c of
// sigs.k8s.io/cri-tools/cmd/critest at the pinned version).
func critestBinary(t testing.TB) string {
	bin := os.Getenv("CRITEST")
	if bin == "" {
		t.Fatal("$CRITEST must name the critest binary; `make conformance` builds it into bin/")
	}
	return bin
}

// reportDir is where critest's reports are kept: $CONFORMANCE_REPORT_DIR,
// or a temporary directory.
func reportDir(t testing.TB) string {
	if d := os.Getenv("CONFORMANCE_REPORT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// startForCritest starts a registry holding critest's images and a daemon
// that pulls from it and has a CNI bridge network.
func startForCritest(t testing.TB) *framework.Daemon {
	reg := framework.StartRegistry(t)
	pushCritestImages(t, reg)
	return framework.StartDaemon(t,
		framework.WithBridgeNetwork(),
		framework.WithRegistriesConf(reg.MirrorConf(mirroredHosts...)),
		framework.WithConfig(func(c *config.Config) {
			// The NRI synchronisation specs hold a plugin's Synchronize
			// open for 2 s, the default request timeout.
			c.NRI.RequestTimeout = "10s"
		}))
}

func TestCritest(t *testing.T) {
	critest := critestBinary(t)
	expected, err := framework.ReadExpectedFailures("expected-failures.txt")
	if err != nil {
		t.Fatal(err)
	}
	d := startForCritest(t)
	defer d.RemoveAllPods(t)

	dir := reportDir(t)
	junit := filepath.Join(dir, "junit_critest.xml")
	logPath := filepath.Join(dir, "critest.log")
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, critest,
		"--runtime-endpoint", d.Endpoint(),
		"--image-endpoint", d.Endpoint(),
		"--nri-socket", d.Config.NRI.SocketPath,
		"--ginkgo.junit-report", junit,
		"--ginkgo.no-color",
		"--ginkgo.timeout", "24m",
	)
	cmd.Dir = t.TempDir()
	// critest makes its pods' log directories (podLogTest*) under
	// TMPDIR and leaves them: in the test's own, they go with it.
	cmd.Env = append(os.Environ(), "TMPDIR="+cmd.Dir)
	elapsed, runErr := framework.RunLogged(t, cmd, logPath)

	specs, err := framework.ReadJUnit(junit)
	if err != nil {
		t.Fatalf("critest (%v) left no report: %v; its output is in %s", runErr, err, logPath)
	}
	sum := framework.Summarise(specs, expected)
	t.Logf("critest: %d passed, %d failed, %d skipped in %s (report %s, log %s)",
		len(sum.Passed), len(sum.Failed), len(sum.Skipped), elapsed, junit, logPath)
	for _, name := range sum.Failed {
		if _, ok := expected[name]; ok {
			t.Logf("failed as expected: %s (%s)", name, expected[name])
		}
	}
	sum.Check(t, specs, "expected-failures.txt")
	if runErr != nil && len(sum.UnexpectedFailures) == 0 && len(sum.Failed) == 0 {
		t.Errorf("critest failed (%v) with no failing spec; see %s", runErr, logPath)
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", framework.LastLines(d.Log(), 200))
	}
}
