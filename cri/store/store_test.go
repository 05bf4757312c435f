package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func openContainers(t *testing.T) *Containers {
	t.Helper()
	s, errs := OpenContainers(t.TempDir())
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	return s
}

func TestLockAndTryLock(t *testing.T) {
	s := openContainers(t)
	unlock := s.Lock("a")
	if _, ok := s.TryLock("a"); ok {
		t.Fatal("TryLock took a lock that Lock holds")
	}
	unlockB, ok := s.TryLock("b")
	if !ok {
		t.Fatal("TryLock of another id failed")
	}
	unlockB()
	got := make(chan struct{})
	go func() {
		defer close(got)
		s.Lock("a")()
	}()
	select {
	case <-got:
		t.Fatal("a second Lock did not wait for the first")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	<-got
	if u, ok := s.TryLock("a"); !ok {
		t.Fatal("TryLock after both unlocked failed")
	} else {
		u()
	}
}

// TestDeleteWhileOthersWait: whoever waited for the lock of a record that
// was deleted meanwhile finds it gone, and the id can be locked again.
func TestDeleteWhileOthersWait(t *testing.T) {
	s := openContainers(t)
	if err := s.Put(&Container{ID: "a", Name: "a_0", CreatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	unlock := s.Lock("a")
	const waiters = 4
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := s.Lock("a")
			defer u()
			_, err := s.Get("a")
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("a waiter read %v after the delete, want NotFound", err)
		}
	}
	if u, ok := s.TryLock("a"); !ok {
		t.Error("the id of a deleted record cannot be locked")
	} else {
		u()
	}
	if err := s.Delete("a"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
}

// TestUpdateUnderConcurrentReads: readers never see half an update, nor
// a change that a reader made to its own copy.
func TestUpdateUnderConcurrentReads(t *testing.T) {
	s := openContainers(t)
	for i := range 20 {
		if err := s.Put(&Container{ID: fmt.Sprintf("c%02d", i), Name: fmt.Sprintf("c%02d_0", i), CreatedAt: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	const updates = 200
	done := make(chan struct{})
	var wg sync.WaitGroup
	var bad sync.Map
	// read runs until done, n goroutines at a time.
	read := func(n int, once func()) {
		for range n {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					once()
				}
			})
		}
	}
	read(4, func() {
		list := s.List()
		if len(list) != 20 {
			bad.Store(fmt.Sprintf("List gave %d records", len(list)), true)
		}
		for i, c := range list {
			if c.ExitCode != int32(c.FinishedAt) || (c.User != nil && c.User.UID != uint32(c.ExitCode)) {
				bad.Store(fmt.Sprintf("half an update: %+v", c), true)
			}
			if i > 0 && list[i-1].CreatedAt > c.CreatedAt {
				bad.Store("List is not oldest first", true)
			}
			// A reader's own change stays its own.
			c.ExitCode, c.Reason = -1, "reader"
		}
	})
	// Readers of the published records themselves, which change none.
	read(2, func() {
		for _, c := range s.ListShared() {
			if c.ExitCode != int32(c.FinishedAt) || (c.User != nil && c.User.UID != uint32(c.ExitCode)) {
				bad.Store(fmt.Sprintf("half an update, shared: %+v", c), true)
			}
		}
		if c, err := s.Shared("c07"); err != nil || c.ExitCode != int32(c.FinishedAt) {
			bad.Store(fmt.Sprintf("Shared(c07) = %+v, %v", c, err), true)
		}
	})
	for n := 1; n <= updates; n++ {
		id := fmt.Sprintf("c%02d", n%20)
		unlock := s.Lock(id)
		_, err := s.Update(id, func(c *Container) error {
			c.ExitCode, c.FinishedAt = int32(n), int64(n)
			c.User = &ContainerUser{UID: uint32(n), Groups: []uint32{uint32(n)}}
			return nil
		})
		unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	bad.Range(func(k, _ any) bool { t.Error(k); return true })
	for _, c := range s.List() {
		if c.Reason == "reader" || c.ExitCode < 0 {
			t.Errorf("a reader's change reached the store: %+v", c)
		}
	}
}

// Shared gives the published record, which an update replaces and never
// changes: what a reader holds stays as it was.
func TestSharedIsThePublishedRecord(t *testing.T) {
	s := openContainers(t)
	for _, id := range []string{"abc1", "abd2"} {
		if err := s.Put(&Container{ID: id, Name: id + "_0", State: ContainerRunning}); err != nil {
			t.Fatal(err)
		}
	}
	held, err := s.Shared("abc")
	if err != nil || held.ID != "abc1" {
		t.Fatalf("Shared(abc) = %+v, %v", held, err)
	}
	if again, _ := s.Shared("abc1"); again != held {
		t.Error("two Shared reads of an unchanged record gave two records")
	}
	if c, _ := s.Get("abc1"); c == held {
		t.Error("Get gave the published record, not a copy")
	}
	if _, err := s.Update("abc1", func(c *Container) error { c.State, c.ExitCode = ContainerExited, 7; return nil }); err != nil {
		t.Fatal(err)
	}
	if held.State != ContainerRunning || held.ExitCode != 0 {
		t.Errorf("an update changed the record a reader held: %+v", held)
	}
	if now, _ := s.Shared("abc1"); now.State != ContainerExited || now.ExitCode != 7 {
		t.Errorf("Shared after the update = %+v", now)
	}
	for _, tc := range []struct {
		id   string
		want error
	}{{"", errdefs.ErrInvalidArgument}, {"ab", errdefs.ErrInvalidArgument}, {"x", errdefs.ErrNotFound}} {
		if _, err := s.Shared(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("Shared(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}
	if got := s.ListShared(); len(got) != 2 || got[0].ID != "abc1" && got[1].ID != "abc1" {
		t.Errorf("ListShared = %v", got)
	}
}

// BenchmarkList lists 750 container records (250 pods of 3), each with a
// CRI config of about 2 KiB, as a kubelet relist does: copies (List) and
// the published records (ListShared).
func BenchmarkList(b *testing.B) {
	s, errs := OpenContainers(b.TempDir())
	if len(errs) != 0 {
		b.Fatal(errs)
	}
	cfg := []byte(fmt.Sprintf(`{"metadata":{"name":"app"},"image":{"image":"registry.k8s.io/app:1"},"labels":{%s"x":"y"}}`, strings.Repeat(`"io.kubernetes.label":"value-of-some-length-to-pad-the-config",`, 40)))
	for i := range 750 {
		if err := s.Put(&Container{ID: fmt.Sprintf("%064d", i), Name: fmt.Sprintf("c%d", i), CreatedAt: int64(i), Config: cfg, User: &ContainerUser{Groups: []uint32{1, 2}}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		list func() []*Container
	}{{"List", s.List}, {"ListShared", s.ListShared}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(bc.list()) != 750 {
					b.Fatal("short list")
				}
			}
		})
	}
}

// ListGroup lists one sandbox's containers, oldest first, through Put,
// Update, Delete and a reload.
func TestListGroup(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenContainers(dir)
	for i, sb := range []string{"p1", "p2", "p1", "p1", "p2"} {
		c := &Container{ID: fmt.Sprintf("c%d", i), Name: fmt.Sprintf("c%d_0", i), SandboxID: sb, CreatedAt: int64(10 - i)}
		if err := s.Put(c); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(s *Containers, group string) string {
		var out []string
		for _, c := range s.ListGroup(group) {
			out = append(out, c.ID)
		}
		return strings.Join(out, ",")
	}
	if _, err := s.Update("c2", func(c *Container) error { c.State = ContainerExited; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("c0"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ group, want string }{{"p1", "c3,c2"}, {"p2", "c4,c1"}, {"p3", ""}} {
		if got := ids(s, tc.group); got != tc.want {
			t.Errorf("ListGroup(%s) = %q, want %q", tc.group, got, tc.want)
		}
	}
	if got := s.ListGroup("p1")[1]; got.State != ContainerExited {
		t.Errorf("ListGroup gave c2 in state %q, not its updated record", got.State)
	}
	reloaded, errs := OpenContainers(dir)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := ids(reloaded, "p1"); got != "c3,c2" {
		t.Errorf("after a reload, ListGroup(p1) = %q", got)
	}
	if err := s.Delete("c4"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("c1"); err != nil {
		t.Fatal(err)
	}
	if got := ids(s, "p2"); got != "" || len(s.byGroup) != 1 {
		t.Errorf("after deleting p2's containers: ListGroup(p2) = %q, %d groups indexed", got, len(s.byGroup))
	}
}
