package main

import (
	"bufio"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// hub fans a container's output out to the attached clients. A client that
// falls behind is dropped rather than slow the container down.
type hub struct {
	mu      sync.Mutex // protects clients
	clients map[chan []byte]struct{}
}

func (h *hub) add() chan []byte {
	ch := make(chan []byte, 256)
	h.mu.Lock()
	h.clients[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) remove(ch chan []byte) {
	h.mu.Lock()
	if _, ok := h.clients[ch]; ok {
		delete(h.clients, ch)
		close(ch)
	}
	h.mu.Unlock()
}

// closeAll ends every attachment (the container has exited).
func (h *hub) closeAll() {
	h.mu.Lock()
	for ch := range h.clients {
		delete(h.clients, ch)
		close(ch)
	}
	h.mu.Unlock()
}

// hubWriter broadcasts what is written to it as frames of type typ.
type hubWriter struct {
	h   *hub
	typ byte
}

func (w hubWriter) Write(p []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	if len(w.h.clients) == 0 {
		return len(p), nil
	}
	frame := wire.Frame(w.typ, p)
	for ch := range w.h.clients {
		select {
		case ch <- frame:
		default:
			delete(w.h.clients, ch)
			close(ch)
		}
	}
	return len(p), nil
}

// stdinTarget is where attached clients' input goes: the container's stdin
// pipe, or its pty master.
type stdinTarget struct {
	mu   sync.Mutex // protects w
	w    *os.File   // nil once closed
	tty  *os.File   // the pty master, for resizes
	once bool       // close stdin when the first client detaches
}

func (s *stdinTarget) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		_, _ = s.w.Write(p)
	}
}

func (s *stdinTarget) resize(p []byte) {
	width, height, ok := wire.ParseResize(p)
	if s.tty == nil || !ok {
		return
	}
	_ = unix.IoctlSetWinsize(int(s.tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: width, Row: height})
}

// close closes a stdin pipe (a pty stays open: it is also the output).
func (s *stdinTarget) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil && s.tty == nil {
		s.w.Close()
	}
	if s.tty == nil {
		s.w = nil
	}
}

// serveAttach serves attached clients until l is closed: the container's
// output goes to each, and their input, resizes and stdin's end come back.
func serveAttach(l *listener, h *hub, in *stdinTarget) {
	l.serve(func(c *os.File) {
		out := h.add()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for frame := range out {
				if _, err := c.Write(frame); err != nil {
					h.remove(out)
					return
				}
			}
		}()
		r := bufio.NewReader(c)
		for {
			typ, p, err := wire.ReadFrame(r)
			if err != nil {
				break
			}
			switch typ {
			case wire.FrameStdin:
				in.write(p)
			case wire.FrameResize:
				in.resize(p)
			case wire.FrameStdinClose:
				if in.once {
					in.close()
				}
			}
		}
		if in.once {
			in.close()
		}
		h.remove(out)
		<-done
	})
}
