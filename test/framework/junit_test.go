package framework

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const junitReport = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="suite">
  <testcase name="[SynchronizedBeforeSuite]" status="passed"></testcase>
  <testcase name="[It] a passes" status="passed"></testcase>
  <testcase name="[It] b fails" status="failed"><failure message="boom">boom
In [It] at: b_test.go:10</failure></testcase>
  <testcase name="[It] c fails, listed" status="failed"><failure message="no kernel">x</failure></testcase>
  <testcase name="[It] d passes, listed" status="passed"></testcase>
  <testcase name="[It] e skipped" status="skipped"><skipped message="skipped"></skipped></testcase>
  <testcase name="[It] f flaked" status="passed"><system-err>STEP: x
  Attempt #1 Failed.  Retrying ↺ @ 12/03/26 20:00:00.000
</system-err></testcase>
  <testcase name="[SynchronizedAfterSuite]" status="failed"><failure message="cleanup">y</failure></testcase>
</testsuite></testsuites>`

func TestSummarise(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "junit.xml")
	if err := os.WriteFile(report, []byte(junitReport), 0o644); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "expected-failures.txt")
	if err := os.WriteFile(list, []byte("# comment\nc fails, listed\n  a reason\n  on two lines\nd passes, listed\n  reason\ngone\n  renamed since\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	specs, err := ReadJUnit(report)
	if err != nil {
		t.Fatal(err)
	}
	expected, err := ReadExpectedFailures(list)
	if err != nil {
		t.Fatal(err)
	}
	if expected["c fails, listed"] != "a reason on two lines" {
		t.Errorf("reason = %q", expected["c fails, listed"])
	}
	s := Summarise(specs, expected)
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		// Suite nodes count only when they fail.
		{"passed", s.Passed, []string{"a passes", "d passes, listed", "f flaked"}},
		{"failed", s.Failed, []string{"b fails", "c fails, listed", "[SynchronizedAfterSuite]"}},
		{"skipped", s.Skipped, []string{"e skipped"}},
		{"unexpected failures", s.UnexpectedFailures, []string{"b fails", "[SynchronizedAfterSuite]"}},
		{"unexpected passes", s.UnexpectedPasses, []string{"d passes, listed"}},
		{"missing", s.Missing, []string{"gone"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	var flaked []string
	for _, sp := range specs {
		if sp.Flaked() {
			flaked = append(flaked, sp.Name)
		}
	}
	if !slices.Equal(flaked, []string{"f flaked"}) {
		t.Errorf("flaked = %q, want [\"f flaked\"]", flaked)
	}
}

func TestReadExpectedFailuresRefusesBadLists(t *testing.T) {
	for name, content := range map[string]string{
		"no reason":    "a spec\n",
		"reason first": "  a reason\na spec\n",
		"listed twice": "a\n  r\na\n  r\n",
	} {
		p := filepath.Join(t.TempDir(), "list")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadExpectedFailures(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
