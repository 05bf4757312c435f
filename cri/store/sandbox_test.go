package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestSandboxesLifecycleAndReload(t *testing.T) {
	dir := t.TempDir()
	s, errs := OpenSandboxes(dir)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if err := s.Reserve("pod_ns_uid_0", "aaaa1111"); err != nil {
		t.Fatal(err)
	}
	err := s.Reserve("pod_ns_uid_0", "bbbb2222")
	if !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), "aaaa1111") {
		t.Errorf("second reservation: %v, want AlreadyExists naming the holder", err)
	}
	sb := &Sandbox{ID: "aaaa1111", Name: "pod_ns_uid_0", State: SandboxReady, CreatedAt: 1, IPs: []string{"10.0.0.2"}}
	if err := s.Put(sb); err != nil {
		t.Fatal(err)
	}
	sb.IPs[0] = "mutated" // the store kept its own copy
	got, err := s.Get("aaaa")
	if err != nil || got.IPs[0] != "10.0.0.2" {
		t.Fatalf("Get by prefix = %+v, %v", got, err)
	}
	// A failing update changes nothing.
	if _, err := s.Update("aaaa1111", func(sb *Sandbox) error { sb.State = SandboxNotReady; return errors.New("no") }); err == nil {
		t.Fatal("failing update succeeded")
	}
	if got, _ := s.Get("aaaa1111"); got.State != SandboxReady {
		t.Errorf("state after failed update = %s", got.State)
	}
	if _, err := s.Update("aaaa1111", func(sb *Sandbox) error { sb.State = SandboxNotReady; return nil }); err != nil {
		t.Fatal(err)
	}
	// An empty directory (a crash before the first write) is dropped; a
	// corrupt record is reported and kept.
	os.MkdirAll(filepath.Join(dir, "halfmade"), 0o700)
	os.MkdirAll(filepath.Join(dir, "corrupt"), 0o700)
	os.WriteFile(filepath.Join(dir, "corrupt", "sandbox.json"), []byte("{"), 0o600)

	s2, errs := OpenSandboxes(dir)
	if len(errs) != 1 {
		t.Errorf("reload errors = %v, want one for the corrupt record", errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "corrupt", "sandbox.json")); err != nil {
		t.Errorf("corrupt record was deleted")
	}
	if _, err := os.Stat(filepath.Join(dir, "halfmade")); !os.IsNotExist(err) {
		t.Errorf("empty record directory kept")
	}
	got, err = s2.Get("aaaa1111")
	if err != nil || got.State != SandboxNotReady {
		t.Fatalf("reloaded = %+v, %v", got, err)
	}
	if holder, ok := s2.HolderOf("pod_ns_uid_0"); !ok || holder != "aaaa1111" {
		t.Errorf("name reservation not reloaded")
	}
	if err := s2.Delete("aaaa1111"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get("aaaa1111"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := s2.Reserve("pod_ns_uid_0", "cccc"); err != nil {
		t.Errorf("name not freed by Delete: %v", err)
	}
	if _, err := s2.Get(""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Get(\"\") = %v", err)
	}
}

// A new record's directory entry is made durable in the store's directory
// (once, when the record's directory is made), and a failure to do so
// fails the Put.
func TestPutSyncsANewRecordsDirectory(t *testing.T) {
	dir := t.TempDir()
	s, errs := OpenSandboxes(dir)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	var synced []string
	s.syncDir = func(d string) error { synced = append(synced, d); return nil }
	sb := &Sandbox{ID: "cccc3333", Name: "p_ns_uid_0", State: SandboxNotReady, CreatedAt: 1}
	for i, want := range [][]string{{dir}, {dir}} {
		if err := s.Put(sb); err != nil {
			t.Fatal(err)
		}
		if len(synced) != len(want) || synced[0] != dir {
			t.Errorf("Put #%d: synced %v, want %v", i+1, synced, want)
		}
	}
	s.syncDir = func(string) error { return errors.New("EIO") }
	if err := s.Put(&Sandbox{ID: "dddd4444", Name: "q_ns_uid_0", CreatedAt: 1}); err == nil {
		t.Error("Put succeeded though its directory entry could not be made durable")
	}
}
