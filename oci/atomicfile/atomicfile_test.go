package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{
		"WriteFile": WriteFile,
		"Replace":   Replace,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "rec.json")
			for _, tc := range []struct {
				data string
				perm os.FileMode
			}{
				{"first", 0o600},
				{"second, longer than the first", 0o644},
				{"", 0o600},
			} {
				if err := write(p, []byte(tc.data), tc.perm); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(p)
				if err != nil || string(got) != tc.data {
					t.Errorf("content = %q, %v; want %q", got, err, tc.data)
				}
				if fi, _ := os.Stat(p); fi.Mode().Perm() != tc.perm {
					t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tc.perm)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the file (no temporaries)", len(entries))
			}
			if err := write(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
				t.Error("write into a missing directory succeeded")
			}
		})
	}
}
