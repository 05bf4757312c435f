package cri

import (
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/pidfd"
)

// watchExit has a running container's exit recorded as soon as it
// happens: its monitor writes the exit record and then ends, and the end
// of the monitor's process is told by a pidfd of it in pidfd.OnExit's
// epoll set (no goroutine or thread each, no polling). The record is then
// brought up to date under the container's lock, and its STOPPED event
// sent. A monitor
// that is gone already is observed at once. Where pidfds are missing
// (Linux before 5.3), WatchExits' sweep notices the exit.
func (s *RuntimeService) watchExit(c *store.Container) {
	if c.State != store.ContainerRunning || c.MonitorPid <= 0 {
		return
	}
	s.exitMu.Lock()
	if s.exitWatched[c.ID] {
		s.exitMu.Unlock()
		return
	}
	s.exitWatched[c.ID] = true
	s.exitMu.Unlock()

	id := c.ID
	cancel, err := pidfd.OnExit(c.MonitorPid, func() { s.exitSeen(id) })
	if err != nil {
		s.forgetExitWatch(id)
		return
	}
	// Watched after the pid was recorded: if the monitor is not the one
	// that started then, it is gone, whatever holds its pid now.
	if !alive(c.MonitorPid, c.MonitorStart) && cancel() {
		go s.exitSeen(id)
	}
}

// exitSeen records the exit of container id, waiting for an operation
// that holds it (which may record the exit itself).
func (s *RuntimeService) exitSeen(id string) {
	defer s.forgetExitWatch(id)
	c, unlock, err := s.lockContainer(id)
	if err != nil {
		return
	}
	defer unlock()
	s.observe(c)
}

// exitPushed tells whether container id's exit will be recorded as soon
// as it happens (its monitor's end is awaited), so that a read of its
// record needs no look at the monitor.
func (s *RuntimeService) exitPushed(id string) bool {
	s.exitMu.Lock()
	defer s.exitMu.Unlock()
	return s.exitWatched[id]
}

func (s *RuntimeService) forgetExitWatch(id string) {
	s.exitMu.Lock()
	delete(s.exitWatched, id)
	s.exitMu.Unlock()
}

// watchExits has every running container's exit watched (at start, after
// recovery).
func (s *RuntimeService) watchExits() {
	for _, c := range s.containers.List() {
		s.watchExit(c)
	}
}
