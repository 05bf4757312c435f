package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// Attach connects to the monitor of the container in dir: the container's
// output from now on goes to stdout and stderr (either may be nil), stdin
// (may be nil) goes to the container, and sizes from resize (may be nil)
// resize its terminal. It returns when the container exits or stdin and
// the connection end.
func Attach(dir string, stdin io.Reader, stdout, stderr io.Writer, resize <-chan [2]uint16) error {
	c, err := dialSocket(dir, wire.AttachSocketFile)
	if err != nil {
		return fmt.Errorf("reaching the container monitor: %w", err)
	}
	defer c.Close()
	var wmu sync.Mutex // serialises frames from stdin and resize
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(wire.Frame(typ, p))
		return err
	}
	if stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 && send(wire.FrameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					_ = send(wire.FrameStdinClose, nil)
					return
				}
			}
		}()
	}
	if resize != nil {
		go func() {
			for sz := range resize {
				if send(wire.FrameResize, wire.Resize(sz[0], sz[1])) != nil {
					return
				}
			}
		}()
	}
	r := bufio.NewReader(c)
	for {
		typ, p, err := wire.ReadFrame(r)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case typ == wire.FrameStdout && stdout != nil:
			_, _ = stdout.Write(p)
		case typ == wire.FrameStderr && stderr != nil:
			_, _ = stderr.Write(p)
		}
	}
}
