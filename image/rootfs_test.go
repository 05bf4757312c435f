package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A layer walked in steps of any budget measures what du would, and no
// step measures more entries than its budget.
func TestLayerWalk(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, size int) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 10000)
	write("d/b", 1)
	write("d/e/f/c", 70000)
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "d/a-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "s")); err != nil {
		t.Fatal(err)
	}
	// du: the root, 3 directories (d, d/e, d/e/f), 3 files, the symlink;
	// the hard link counted once.
	var wantBytes uint64
	if err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if filepath.Base(p) != "a-link" {
			wantBytes += uint64(info.Sys().(*syscall.Stat_t).Blocks) * 512
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const wantInodes = 8
	for _, budget := range []int{1, 2, 3, 1000} {
		w := &LayerWalk{duWalk: duWalk{entries: []string{dir}}}
		steps := 0
		for !w.Step(budget) {
			steps++
			if steps > 100 {
				t.Fatalf("budget %d: not done after 100 steps", budget)
			}
		}
		// 9 entries (with the link); each step stats at most budget.
		if min := (9+budget-1)/budget - 1; steps < min {
			t.Errorf("budget %d: done after %d unfinished steps, want at least %d", budget, steps, min)
		}
		if b, i := w.Usage(); b != wantBytes || i != wantInodes {
			t.Errorf("budget %d: usage %d bytes, %d inodes; want %d, %d", budget, b, i, wantBytes, wantInodes)
		}
	}
	// A layer gone meanwhile measures nothing and ends.
	w := &LayerWalk{duWalk: duWalk{entries: []string{filepath.Join(dir, "gone")}}}
	if !w.Step(10) {
		t.Error("the walk of a missing layer did not end")
	}
	if b, i := w.Usage(); b != 0 || i != 0 {
		t.Errorf("missing layer: %d bytes, %d inodes", b, i)
	}
}

func TestReadNames(t *testing.T) {
	many := t.TempDir()
	want := map[string]bool{}
	// More entries than one read of the buffer holds.
	for i := range 600 {
		name := fmt.Sprintf("%03d-%s", i, strings.Repeat("n", 40))
		if err := os.WriteFile(filepath.Join(many, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = true
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(many, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		want      int
		fails     bool
	}{
		{"many entries", many, 600, false},
		{"empty", t.TempDir(), 0, false},
		{"a symlink to a directory", link, 0, true},
		{"missing", filepath.Join(many, "missing"), 0, true},
		{"a file", filepath.Join(many, "000-"+strings.Repeat("n", 40)), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, err := readNames(tc.dir, make([]byte, 8192), nil)
			if (err != nil) != tc.fails || len(names) != tc.want {
				t.Fatalf("readNames = %d names, %v; want %d, failing %v", len(names), err, tc.want, tc.fails)
			}
			for _, n := range names {
				if !want[n] {
					t.Errorf("readNames gave %q", n)
				}
			}
		})
	}
}
