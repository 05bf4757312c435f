package framework

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// This file reads the reports of the Ginkgo suites cria is run under
// (critest, Kubernetes' node e2e) and checks them against a list of the
// specs that are expected to fail on this machine, with the reason for each.

// ExpectedFailures maps a spec's name to the reason it cannot pass here.
type ExpectedFailures map[string]string

// ReadExpectedFailures reads the list: a spec's full name on a line of its
// own, its reason on the indented lines after it; '#' starts a comment.
func ReadExpectedFailures(path string) (ExpectedFailures, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list := ExpectedFailures{}
	var current string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if current == "" {
				return nil, fmt.Errorf("%s:%d: a reason with no Spec before it", path, n)
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

// Spec is one test case of a Ginkgo JUnit report.
type Spec struct {
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
	// SystemErr is the spec's timeline, which tells of failed attempts
	// that a retry (ginkgo --flake-attempts) made good.
	SystemErr string `xml:"system-err"`
	// SuiteNode is set for the suite's set-up and tear-down nodes
	// ([BeforeSuite], [SynchronizedAfterSuite], …), which the report lists
	// beside the specs: counted only when they fail.
	SuiteNode bool `xml:"-"`
}

// ReadJUnit returns the specs of a Ginkgo JUnit report, each named by its
// full text without the node type ("[It] ").
func ReadJUnit(path string) ([]Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var report struct {
		Suites []struct {
			Cases []Spec `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &report); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	var specs []Spec
	for _, s := range report.Suites {
		for _, c := range s.Cases {
			if strings.HasPrefix(c.Name, "[It] ") {
				c.Name = strings.TrimPrefix(c.Name, "[It] ")
			} else {
				c.SuiteNode = strings.HasPrefix(c.Name, "[")
			}
			specs = append(specs, c)
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s holds no test cases", path)
	}
	return specs, nil
}

// Summary sorts a report's specs by outcome and against the list of
// expected failures.
type Summary struct {
	Passed, Failed, Skipped []string
	UnexpectedFailures      []string // failed, not listed
	UnexpectedPasses        []string // listed, passed
	Missing                 []string // listed, but neither passed nor failed
}

// Flaked tells whether sp failed an attempt and passed a retry.
func (sp Spec) Flaked() bool {
	return sp.Failure == nil && sp.Error == nil && sp.Status == "passed" && strings.Contains(sp.SystemErr, "Attempt #1 Failed")
}

// Summarise sorts specs by outcome and compares them with expected.
func Summarise(specs []Spec, expected ExpectedFailures) Summary {
	var s Summary
	seen := map[string]bool{}
	for _, sp := range specs {
		switch {
		case sp.Failure != nil || sp.Error != nil || sp.Status == "failed" || sp.Status == "panicked" ||
			sp.Status == "interrupted" || sp.Status == "timedout" || sp.Status == "aborted":
			s.Failed = append(s.Failed, sp.Name)
			if _, ok := expected[sp.Name]; !ok {
				s.UnexpectedFailures = append(s.UnexpectedFailures, sp.Name)
			}
			seen[sp.Name] = true
		case sp.SuiteNode:
		case sp.Skipped != nil || sp.Status == "skipped" || sp.Status == "pending":
			s.Skipped = append(s.Skipped, sp.Name)
		default:
			s.Passed = append(s.Passed, sp.Name)
			if _, ok := expected[sp.Name]; ok {
				s.UnexpectedPasses = append(s.UnexpectedPasses, sp.Name)
			}
			seen[sp.Name] = true
		}
	}
	for name := range expected {
		if !seen[name] {
			s.Missing = append(s.Missing, name)
		}
	}
	sort.Strings(s.Missing)
	return s
}

// Check fails t for every way the report disagrees with the list (named
// list): an unlisted failure, a listed spec that passed, a listed spec
// that did not run. A failure's message and location are quoted.
func (s Summary) Check(t testing.TB, specs []Spec, list string) {
	t.Helper()
	if len(s.UnexpectedFailures) > 0 {
		t.Errorf("%d specs failed that %s does not list:\n%s\n\nTheir failures:\n%s",
			len(s.UnexpectedFailures), list, strings.Join(s.UnexpectedFailures, "\n"), FailureExcerpts(specs, s.UnexpectedFailures))
	}
	if len(s.UnexpectedPasses) > 0 {
		t.Errorf("specs listed in %s passed; remove them from the list:\n%s", list, strings.Join(s.UnexpectedPasses, "\n"))
	}
	if len(s.Missing) > 0 {
		t.Errorf("specs listed in %s did not run (renamed, removed or skipped?):\n%s", list, strings.Join(s.Missing, "\n"))
	}
}

// FailureExcerpts returns the failure messages of the named specs.
func FailureExcerpts(specs []Spec, names []string) string {
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
				// ends with where the Spec failed.
				fmt.Fprintf(&b, "%s\n", firstLines(f.Message, 25))
				if loc := LastLines(strings.TrimSpace(f.Text), 1); strings.HasPrefix(loc, "In [") {
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
