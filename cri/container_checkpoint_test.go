package cri

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestWriteTar(t *testing.T) {
	dir := t.TempDir()
	for p, content := range map[string]string{
		"checkpoint/pages-1.img": "pages", "checkpoint/inventory.img": "inv",
		"spec.dump": "{}", "config.dump": "{}", "work/dump.log": "log",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o700)
		os.WriteFile(filepath.Join(dir, p), []byte(content), 0o600)
	}
	out := filepath.Join(t.TempDir(), "c.tar")
	if err := writeTar(out, dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	want := []string{"checkpoint", "checkpoint/inventory.img", "checkpoint/pages-1.img", "config.dump", "spec.dump"}
	if len(names) != len(want) {
		t.Fatalf("archive holds %v, want %v (no work/ logs)", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("entry %d = %q, want %q", i, names[i], want[i])
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("temporary files left beside the archive: %v", entries)
	}
}
