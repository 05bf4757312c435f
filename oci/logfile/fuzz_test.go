package logfile

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var record = regexp.MustCompile(`^\S+ (stdout|stderr) (P|F) (.*)$`)

// FuzzStream writes arbitrary output, cut into arbitrary chunks, through a
// Stream: every line of the file is one CRI record of at most MaxRecord
// bytes of content, and the records give back the output exactly.
func FuzzStream(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3))
	f.Add([]byte("no newline"), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), MaxRecord+5), uint8(200))
	f.Add([]byte("\n\n\r\n\x00\n"), uint8(0))
	f.Fuzz(func(t *testing.T, out []byte, chunk uint8) {
		p := filepath.Join(t.TempDir(), "0.log")
		l, err := Open("", p, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := l.Stream("stdout")
		n := int(chunk) + 1
		for rest := out; len(rest) > 0; {
			k := min(n, len(rest))
			if w, err := s.Write(rest[:k]); err != nil || w != k {
				t.Fatalf("Write = %d, %v", w, err)
			}
			rest = rest[k:]
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		l.Close()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if line == "" {
				continue
			}
			if !strings.HasSuffix(line, "\n") {
				t.Fatalf("record %q does not end its line", line)
			}
			m := record.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
			if m == nil {
				t.Fatalf("line %q is not a CRI record", line)
			}
			if len(m[3]) > MaxRecord {
				t.Fatalf("record of %d bytes, more than %d", len(m[3]), MaxRecord)
			}
			got.WriteString(m[3])
			if m[2] == "F" {
				got.WriteByte('\n')
			}
		}
		want := string(out)
		if got.String() != want {
			t.Fatalf("records give back %q, want %q", got.String(), want)
		}
	})
}
