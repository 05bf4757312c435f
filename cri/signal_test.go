package cri

import (
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"golang.org/x/sys/unix"
)

// Every signal of the CRI's enum parses, as what it names.
func TestEveryCRISignalParses(t *testing.T) {
	for v, name := range runtimeapi.Signal_name {
		if v == 0 {
			continue
		}
		if _, ok := parseSignal(strings.TrimPrefix(name, "SIGNAL_")); !ok {
			t.Errorf("the CRI's %s does not parse", name)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"", 0, true},
		{"SIGTERM", unix.SIGTERM, true},
		{"TERM", unix.SIGTERM, true},
		{"sigquit", unix.SIGQUIT, true},
		{"int", unix.SIGINT, true},
		{"9", unix.SIGKILL, true},
		{"15", unix.SIGTERM, true},
		{"64", 64, true},
		{"SIGRTMIN", 34, true},
		{"SIGRTMIN+3", 37, true},
		{"RTMIN+30", 64, true},
		{"SIGRTMAX", 64, true},
		{"SIGRTMAX-2", 62, true},
		{"SIGRTMINPLUS3", 37, true},
		{"SIGRTMAXMINUS1", 63, true},
		{"SIGCLD", unix.SIGCHLD, true},
		{"SIGPOLL", unix.SIGIO, true},
		{"SIGIOT", unix.SIGABRT, true},
		{"SIGPWR", unix.SIGPWR, true},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"SIGRTMIN+31", 0, false},
		{"SIGRTMAX-31", 0, false},
		{"SIGRTMIN-1", 0, false},
		{"SIGRTMAX+1", 0, false},
		{"SIGRTMIN+x", 0, false},
		{"SIGFOO", 0, false},
		{"SIG", 0, false},
	} {
		got, ok := parseSignal(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseSignal(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
