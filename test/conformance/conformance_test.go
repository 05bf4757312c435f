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
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

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
		framework.WithRegistriesConf(reg.MirrorConf(mirroredHosts...)))
}

func TestCritest(t *testing.T) {
	critest := critestBinary(t)
	expected, err := readExpectedFailures("expected-failures.txt")
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
		"--ginkgo.junit-report", junit,
		"--ginkgo.no-color",
		"--ginkgo.timeout", "24m",
	)
	cmd.Dir = t.TempDir()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	runErr := cmd.Run()
	logf.Close()
	elapsed := time.Since(start).Round(time.Second)

	specs, err := readJUnit(junit)
	if err != nil {
		t.Fatalf("critest (%v) left no report: %v; its output is in %s", runErr, err, logPath)
	}
	sum := summarise(specs, expected)
	t.Logf("critest: %d passed, %d failed, %d skipped in %s (report %s, log %s)",
		len(sum.passed), len(sum.failed), len(sum.skipped), elapsed, junit, logPath)
	for _, name := range sum.failed {
		if _, ok := expected[name]; ok {
			t.Logf("failed as expected: %s (%s)", name, expected[name])
		}
	}
	if len(sum.unexpectedFailures) > 0 {
		t.Errorf("%d specs failed that expected-failures.txt does not list:\n%s\n\ncritest's output:\n%s",
			len(sum.unexpectedFailures), strings.Join(sum.unexpectedFailures, "\n"), failureExcerpts(specs, sum.unexpectedFailures))
	}
	if len(sum.unexpectedPasses) > 0 {
		t.Errorf("specs listed in expected-failures.txt passed; remove them from the list:\n%s", strings.Join(sum.unexpectedPasses, "\n"))
	}
	if len(sum.missing) > 0 {
		t.Errorf("specs listed in expected-failures.txt did not run (renamed or skipped?):\n%s", strings.Join(sum.missing, "\n"))
	}
	if runErr != nil && len(sum.unexpectedFailures) == 0 && len(sum.failed) == 0 {
		t.Errorf("critest failed (%v) with no failing spec; see %s", runErr, logPath)
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", framework.LastLines(d.Log(), 200))
	}
}

// expectedFailures maps a spec's name to the reason it cannot pass here.
type expectedFailures map[string]string

// readExpectedFailures reads the list: a spec's full name on a line of its
// own, its reason on the indented lines after it; '#' starts a comment.
func readExpectedFailures(path string) (expectedFailures, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list := expectedFailures{}
	var current string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if current == "" {
				return nil, fmt.Errorf("%s:%d: a reason with no spec before it", path, n)
			}
			list[current] = strings.TrimSpace(list[current] + " " + trimmed)
		default:
			if _, dup := list[trimmed]; dup {
				return nil, fmt.Errorf("%s:%d: %q is listed twice", path, n, trimmed)
			}
			current = trimmed
			list[current] = ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for name, reason := range list {
		if reason == "" {
			return nil, fmt.Errorf("%s: %q has no reason", path, name)
		}
	}
	return list, nil
}

// spec is one test case of critest's JUnit report.
type spec struct {
	Name    string `xml:"name,attr"`
	Status  string `xml:"status,attr"`
	Failure *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	} `xml:"error"`
	Skipped *struct{} `xml:"skipped"`
}

// readJUnit returns the specs of a Ginkgo JUnit report, each named by its
// full text without the node type ("[It] ").
func readJUnit(path string) ([]spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var report struct {
		Suites []struct {
			Cases []spec `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &report); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	var specs []spec
	for _, s := range report.Suites {
		for _, c := range s.Cases {
			c.Name = strings.TrimPrefix(c.Name, "[It] ")
			specs = append(specs, c)
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s holds no test cases", path)
	}
	return specs, nil
}

type summary struct {
	passed, failed, skipped []string
	unexpectedFailures      []string
	unexpectedPasses        []string
	missing                 []string // listed, but neither passed nor failed
}

func summarise(specs []spec, expected expectedFailures) summary {
	var s summary
	seen := map[string]bool{}
	for _, sp := range specs {
		switch {
		case sp.Failure != nil || sp.Error != nil || sp.Status == "failed" || sp.Status == "panicked" ||
			sp.Status == "interrupted" || sp.Status == "timedout" || sp.Status == "aborted":
			s.failed = append(s.failed, sp.Name)
			if _, ok := expected[sp.Name]; !ok {
				s.unexpectedFailures = append(s.unexpectedFailures, sp.Name)
			}
			seen[sp.Name] = true
		case sp.Skipped != nil || sp.Status == "skipped" || sp.Status == "pending":
			s.skipped = append(s.skipped, sp.Name)
		default:
			s.passed = append(s.passed, sp.Name)
			if _, ok := expected[sp.Name]; ok {
				s.unexpectedPasses = append(s.unexpectedPasses, sp.Name)
			}
			seen[sp.Name] = true
		}
	}
	for name := range expected {
		if !seen[name] {
			s.missing = append(s.missing, name)
		}
	}
	sort.Strings(s.missing)
	return s
}

// failureExcerpts returns the failure messages of the named specs.
func failureExcerpts(specs []spec, names []string) string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var b strings.Builder
	for _, sp := range specs {
		if !want[sp.Name] {
			continue
		}
		fmt.Fprintf(&b, "--- %s\n", sp.Name)
		for _, f := range []*struct {
			Message string `xml:"message,attr"`
			Text    string `xml:",chardata"`
		}{sp.Failure, sp.Error} {
			if f != nil {
				// The message repeats at the head of the text; the text
				// ends with where the spec failed.
				fmt.Fprintf(&b, "%s\n", firstLines(f.Message, 25))
				if loc := framework.LastLines(strings.TrimSpace(f.Text), 1); strings.HasPrefix(loc, "In [") {
					fmt.Fprintf(&b, "%s\n", loc)
				}
			}
		}
	}
	return b.String()
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}
