package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// The monitor writes the exit record by hand; the daemon reads it with
// encoding/json. Both must agree on every record.
func TestExitJSON(t *testing.T) {
	for _, e := range []Exit{
		{Code: 0, FinishedAt: 1795909510549311317},
		{Code: 3, FinishedAt: 1},
		{Code: 137, Signal: "SIGKILL", FinishedAt: 1795909510549311317},
		{Code: 255},
		{Code: -1, Signal: `odd"name\`, FinishedAt: -5},
	} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.JSON(); !bytes.Equal(got, want) {
			t.Errorf("%+v: JSON() = %s, encoding/json says %s", e, got, want)
		}
		var back Exit
		if err := json.Unmarshal(e.JSON(), &back); err != nil || back != e {
			t.Errorf("%+v read back as %+v (%v)", e, back, err)
		}
	}
}

func TestArgs(t *testing.T) {
	full := Options{
		ID: "c1", Dir: "/run/cria/c1", LogPath: "/var/log/pods/p/c/0.log",
		HelperArgs: []string{"start", "--dir", "/run/cria/c1"}, ExecFifo: "/run/cria/runc/c1/exec.fifo",
		Terminal: true, Stdin: true, StdinOnce: true,
	}
	minimal := Options{ID: "c2", Dir: "/d", LogPath: "/l", ExecFifo: "/f"}
	for _, o := range []Options{full, minimal} {
		got, err := ParseArgs(o.Args())
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Errorf("ParseArgs(Args(%+v)) = %+v, %v", o, got, err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flag without value", []string{"--id", "c", "--dir"}},
		{"unknown flag", []string{"--id", "c", "--dir", "/d", "--log", "/l", "--exec-fifo", "/f", "--bogus", "x"}},
		{"relative dir", []string{"--id", "c", "--dir", "d", "--log", "/l", "--exec-fifo", "/f"}},
		{"no id", []string{"--dir", "/d", "--log", "/l", "--exec-fifo", "/f"}},
		{"relative log", []string{"--id", "c", "--dir", "/d", "--log", "l", "--exec-fifo", "/f"}},
		{"no exec fifo", []string{"--id", "c", "--dir", "/d", "--log", "/l"}},
		{"relative exec fifo", []string{"--id", "c", "--dir", "/d", "--log", "/l", "--exec-fifo", "f"}},
		{"helper in the options", []string{"--id", "c", "--dir", "/d", "--log", "/l", "--exec-fifo", "/f", "--helper", "/h"}},
	} {
		if _, err := ParseArgs(tc.args); err == nil {
			t.Errorf("%s: ParseArgs(%q) accepted", tc.name, tc.args)
		}
	}
}

func TestFrames(t *testing.T) {
	var stream bytes.Buffer
	stream.Write(Frame(FrameStdout, []byte("hello")))
	stream.Write(Frame(FrameStdinClose, nil))
	stream.Write(Frame(FrameResize, Resize(91, 37)))
	r := bufio.NewReader(&stream)
	for _, want := range []struct {
		typ byte
		p   string
	}{{FrameStdout, "hello"}, {FrameStdinClose, ""}, {FrameResize, string(Resize(91, 37))}} {
		typ, p, err := ReadFrame(r)
		if err != nil || typ != want.typ || string(p) != want.p {
			t.Errorf("ReadFrame = %d %q %v, want %d %q", typ, p, err, want.typ, want.p)
		}
	}
	if w, h, ok := ParseResize(Resize(91, 37)); !ok || w != 91 || h != 37 {
		t.Errorf("ParseResize = %d×%d %v", w, h, ok)
	}
	if _, _, ok := ParseResize([]byte{1, 2, 3}); ok {
		t.Error("ParseResize accepted 3 bytes")
	}
	// A header claiming more than MaxFrame is refused before allocating.
	huge := Frame(FrameStdin, nil)
	huge[1] = 0xff
	if _, _, err := ReadFrame(bufio.NewReader(bytes.NewReader(huge))); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
}

func TestReadPidStart(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		pid     int
		start   uint64
		ok      bool
	}{
		{"123", 123, 0, true},
		{"123 456\n", 123, 456, true},
		{"", 0, 0, false},
		{"abc", 0, 0, false},
		{"123 abc", 0, 0, false},
	} {
		path := filepath.Join(dir, "pid")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		pid, start, err := ReadPidStart(path)
		if (err == nil) != tc.ok || pid != tc.pid || start != tc.start {
			t.Errorf("ReadPidStart(%q) = %d, %d, %v", tc.content, pid, start, err)
		}
	}
	// This process's start time is stable and names it.
	a, err := ProcessStart(os.Getpid())
	if b, _ := ProcessStart(os.Getpid()); err != nil || a == 0 || a != b {
		t.Errorf("ProcessStart(self) = %d, %d, %v", a, b, err)
	}
	if _, err := ProcessStart(1 << 30); err == nil {
		t.Error("ProcessStart of a pid that cannot exist succeeded")
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
			if got := HelperEnv(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("HelperEnv(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
