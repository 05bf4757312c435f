package cri

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCappedBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"under the cap", []string{"ab", "cd"}, "abcd"},
		{"exactly the cap", []string{"abcde"}, "abcde"},
		{"over in one write", []string{"abcdefgh"}, "abcde\n[cria: output truncated: 3 bytes dropped after the first 5]\n"},
		{"over across writes", []string{"abc", "def", "gh"}, "abcde\n[cria: output truncated: 3 bytes dropped after the first 5]\n"},
	} {
		b := &cappedBuffer{limit: 5}
		for _, w := range tc.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: Write = %d, %v", tc.name, n, err)
			}
		}
		if got := string(b.Bytes()); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// Through io.Copy, as the exec's output arrives.
	big := &cappedBuffer{limit: 1 << 10}
	if _, err := io.Copy(big, bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(big.Bytes()), "1047552 bytes dropped") {
		t.Errorf("big write marker: %q", big.Bytes()[1<<10:])
	}
}
