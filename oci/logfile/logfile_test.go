package logfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fixed = time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)

const ts = "2026-11-28T10:00:00.123456789Z"

func openTest(t *testing.T) (*File, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "0.log")
	l, err := Open("", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return fixed }
	return l, p
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStreamRecords(t *testing.T) {
	long := strings.Repeat("x", MaxRecord)
	for _, tc := range []struct {
		name   string
		chunks []string
		close  bool
		want   []string // records after the timestamp
	}{
		{name: "one line", chunks: []string{"hello\n"}, want: []string{"stdout F hello"}},
		{name: "two lines one chunk", chunks: []string{"a\nb\n"}, want: []string{"stdout F a", "stdout F b"}},
		{name: "line across chunks", chunks: []string{"hel", "lo", " world\n"}, want: []string{"stdout F hello world"}},
		{name: "empty line", chunks: []string{"\n"}, want: []string{"stdout F "}},
		{name: "no newline until close", chunks: []string{"tail"}, close: true, want: []string{"stdout P tail"}},
		{name: "long, no newline until close", chunks: []string{long + "yz"}, close: true, want: []string{"stdout P " + long, "stdout P yz"}},
		{name: "no newline, not closed", chunks: []string{"tail"}, want: nil},
		{name: "exactly max", chunks: []string{long + "\n"}, want: []string{"stdout F " + long}},
		{name: "longer than max", chunks: []string{long + "yz\n"}, want: []string{"stdout P " + long, "stdout F yz"}},
		{name: "long line in small chunks", chunks: []string{long[:100], long[100:], "!\n"}, want: []string{"stdout P " + long, "stdout F !"}},
		{name: "two max records", chunks: []string{long + long + "\n"}, want: []string{"stdout P " + long, "stdout F " + long}},
		{name: "carriage return kept", chunks: []string{"a\r\n"}, want: []string{"stdout F a\r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, p := openTest(t)
			s := l.Stream("stdout")
			for _, c := range tc.chunks {
				if n, err := s.Write([]byte(c)); err != nil || n != len(c) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if tc.close {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var want string
			for _, r := range tc.want {
				want += ts + " " + r + "\n"
			}
			if got := read(t, p); got != want {
				t.Errorf("log =\n%.200q\nwant\n%.200q", got, want)
			}
		})
	}
}

func TestTwoStreamsShareTheFile(t *testing.T) {
	l, p := openTest(t)
	out, errs := l.Stream("stdout"), l.Stream("stderr")
	out.Write([]byte("o1 "))
	errs.Write([]byte("e1\n"))
	out.Write([]byte("o2\n"))
	want := ts + " stderr F e1\n" + ts + " stdout F o1 o2\n"
	if got := read(t, p); got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func TestReopenAfterRename(t *testing.T) {
	l, p := openTest(t)
	s := l.Stream("stdout")
	s.Write([]byte("before\n"))
	rotated := p + ".20261128-100000"
	if err := os.Rename(p, rotated); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("still old file\n")) // written before the kubelet asks
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("after\n"))
	if got, want := read(t, rotated), ts+" stdout F before\n"+ts+" stdout F still old file\n"; got != want {
		t.Errorf("rotated = %q, want %q", got, want)
	}
	if got, want := read(t, p), ts+" stdout F after\n"; got != want {
		t.Errorf("new = %q, want %q", got, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTimestampIsRFC3339Nano(t *testing.T) {
	l, p := openTest(t)
	l.now = time.Now
	l.Stream("stderr").Write([]byte("x\n"))
	rec := read(t, p)
	stamp, rest, _ := strings.Cut(rec, " ")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || rest != "stderr F x\n" {
		t.Errorf("record %q: time %v, rest %q", rec, err, rest)
	}
}

// A full disk drops records instead of failing the writer (which would
// stop the container's output from being drained), reports the drops at
// most once every ReportEvery, and logging resumes once writes work.
func TestWriteErrorsDropRecordsAndRecover(t *testing.T) {
	var reports []string
	p := filepath.Join(t.TempDir(), "0.log")
	full, err := Open("/dev", "/dev/full", func(m string) { reports = append(reports, m) })
	if err != nil {
		t.Fatal(err)
	}
	clock := fixed
	full.now = func() time.Time { return clock }
	s := full.Stream("stdout")
	for i := 0; i < 5; i++ {
		if n, err := s.Write([]byte("lost\n")); err != nil || n != 5 {
			t.Fatalf("Write on a full disk = %d, %v; want 5, nil", n, err)
		}
	}
	if len(reports) != 1 || !strings.Contains(reports[0], "no space left") {
		t.Fatalf("reports after 5 drops within a second = %q, want one naming ENOSPC", reports)
	}
	clock = clock.Add(ReportEvery)
	s.Write([]byte("lost\n"))
	if len(reports) != 2 || !strings.Contains(reports[1], "6 so far") {
		t.Fatalf("reports after %v = %q, want a second with the count", ReportEvery, reports)
	}
	// Space comes back.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	full.f.Close()
	full.f = f
	s.Write([]byte("kept\n"))
	if got, want := read(t, p), clock.Format(time.RFC3339Nano)+" stdout F kept\n"; got != want {
		t.Errorf("log after recovery = %q, want %q", got, want)
	}
	if len(reports) != 3 || !strings.Contains(reports[2], "resumed; 6 records were dropped") {
		t.Errorf("reports = %q, want a third saying writes resumed after 6 drops", reports)
	}
}
