package monitor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// AttachSocketFile is the monitor's attach socket, in the container's run
// directory. Its protocol is a stream of frames: a type byte, a 4-byte
// big-endian length, the payload.
const AttachSocketFile = "attach.sock"

// Frame types.
const (
	frameStdout     byte = 1 // monitor → client
	frameStderr     byte = 2 // monitor → client
	frameStdin      byte = 3 // client → monitor
	frameResize     byte = 4 // client → monitor: width, height as uint16
	frameStdinClose byte = 5 // client → monitor: the client's stdin ended
)

// maxFrame bounds a frame's payload.
const maxFrame = 1 << 20

func writeFrame(w io.Writer, typ byte, p []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

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

// writer returns an io.Writer that broadcasts frames of type typ.
func (h *hub) writer(typ byte) io.Writer { return hubWriter{h, typ} }

type hubWriter struct {
	h   *hub
	typ byte
}

func (w hubWriter) Write(p []byte) (int, error) {
	var frame bytesFrame
	frame.set(w.typ, p)
	w.h.mu.Lock()
	for ch := range w.h.clients {
		select {
		case ch <- frame.b:
		default:
			delete(w.h.clients, ch)
			close(ch)
		}
	}
	w.h.mu.Unlock()
	return len(p), nil
}

type bytesFrame struct{ b []byte }

func (f *bytesFrame) set(typ byte, p []byte) {
	f.b = make([]byte, 5+len(p))
	f.b[0] = typ
	binary.BigEndian.PutUint32(f.b[1:], uint32(len(p)))
	copy(f.b[5:], p)
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
	if s.tty == nil || len(p) != 4 {
		return
	}
	ws := &unix.Winsize{Col: binary.BigEndian.Uint16(p[0:2]), Row: binary.BigEndian.Uint16(p[2:4])}
	_ = unix.IoctlSetWinsize(int(s.tty.Fd()), unix.TIOCSWINSZ, ws)
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

// serveAttach accepts attach connections until l is closed.
func serveAttach(l net.Listener, h *hub, in *stdinTarget) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
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
				typ, p, err := readFrame(r)
				if err != nil {
					break
				}
				switch typ {
				case frameStdin:
					in.write(p)
				case frameResize:
					in.resize(p)
				case frameStdinClose:
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
		}()
	}
}

func listenAttach(dir string) (net.Listener, error) {
	l, err := listenSocket(dir, AttachSocketFile)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	return l, nil
}

// Attach connects to the monitor of the container in dir: the container's
// output from now on goes to stdout and stderr (either may be nil), stdin
// (may be nil) goes to the container, and sizes from resize (may be nil)
// resize its terminal. It returns when the container exits or stdin and
// the connection end.
func Attach(dir string, stdin io.Reader, stdout, stderr io.Writer, resize <-chan [2]uint16) error {
	c, err := dialSocket(dir, AttachSocketFile)
	if err != nil {
		return fmt.Errorf("reaching the container monitor: %w", err)
	}
	defer c.Close()
	var wmu sync.Mutex // serialises frames from stdin and resize
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(c, typ, p)
	}
	if stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 && send(frameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					_ = send(frameStdinClose, nil)
					return
				}
			}
		}()
	}
	if resize != nil {
		go func() {
			for sz := range resize {
				var p [4]byte
				binary.BigEndian.PutUint16(p[0:2], sz[0])
				binary.BigEndian.PutUint16(p[2:4], sz[1])
				if send(frameResize, p[:]) != nil {
					return
				}
			}
		}()
	}
	r := bufio.NewReader(c)
	for {
		typ, p, err := readFrame(r)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case typ == frameStdout && stdout != nil:
			_, _ = stdout.Write(p)
		case typ == frameStderr && stderr != nil:
			_, _ = stderr.Write(p)
		}
	}
}
