package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFirst(t *testing.T) {
	const bridge = `{"cniVersion": "1.0.0", "name": "%s", "plugins": [{"type": "bridge"}]}`
	for _, tc := range []struct {
		name     string
		files    map[string]string
		wantName string
		wantWhy  string
	}{
		{name: "empty dir", wantWhy: "no CNI network config"},
		{name: "first in lexical order", files: map[string]string{
			"20-b.conflist": strings.Replace(bridge, "%s", "b", 1),
			"10-a.conflist": strings.Replace(bridge, "%s", "a", 1),
		}, wantName: "a"},
		{name: "single plugin .conf", files: map[string]string{
			"10-one.conf": `{"cniVersion": "1.0.0", "name": "one", "type": "bridge"}`,
		}, wantName: "one"},
		{name: "invalid file skipped", files: map[string]string{
			"00-broken.conflist": `{not json`,
			"10-ok.conflist":     strings.Replace(bridge, "%s", "ok", 1),
		}, wantName: "ok"},
		{name: "only invalid", files: map[string]string{"00-broken.conflist": `{`}, wantWhy: "no valid CNI network config"},
		{name: "other extensions ignored", files: map[string]string{"README.md": "x"}, wantWhy: "no CNI network config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			list, why := loadFirst(dir)
			if tc.wantName != "" {
				if list == nil || list.Name != tc.wantName {
					t.Fatalf("loadFirst = %v (%s), want network %q", list, why, tc.wantName)
				}
				return
			}
			if list != nil || !strings.Contains(why, tc.wantWhy) {
				t.Errorf("loadFirst = %v, %q; want none because %q", list, why, tc.wantWhy)
			}
		})
	}
}

func TestShippedDefaultConfigLoads(t *testing.T) {
	list, why := loadFirst("../../contrib/cni")
	if list == nil {
		t.Fatalf("contrib/cni does not load: %s", why)
	}
	if list.Name != "cria" || len(list.Plugins) != 3 || list.Plugins[0].Network.Type != "bridge" {
		t.Errorf("default network = %s with %d plugins", list.Name, len(list.Plugins))
	}
}

func TestDirSignatureChangesWithContent(t *testing.T) {
	dir := t.TempDir()
	before := dirSignature(dir)
	os.WriteFile(filepath.Join(dir, "10.conflist"), []byte("{}"), 0o644)
	if dirSignature(dir) == before {
		t.Error("signature unchanged after adding a file")
	}
}
