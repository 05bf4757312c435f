package streaming

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A connection that only sends a request with a refused token is closed
// once idle, and no more than MaxConns are served at once: a local process
// cannot run the daemon out of descriptors through the streaming port.
func TestConnectionLimitAndIdleTimeout(t *testing.T) {
	s, err := Start(Options{Address: "127.0.0.1", MaxConns: 2, ConnIdleTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, _ := url.Parse(s.URL)
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	get := func(c net.Conn, within time.Duration) (string, error) {
		c.SetDeadline(time.Now().Add(within))
		if _, err := c.Write([]byte("GET /exec/no-such-token HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			return "", err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		return line, err
	}

	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	if line, err := get(a, 2*time.Second); err != nil || !strings.Contains(line, "404") {
		t.Fatalf("first connection: %q, %v; want 404", line, err)
	}
	if line, err := get(b, 2*time.Second); err != nil || !strings.Contains(line, "404") {
		t.Fatalf("second connection: %q, %v; want 404", line, err)
	}
	// A third is not served while the two are open...
	c := dial()
	defer c.Close()
	if line, err := get(c, 300*time.Millisecond); err == nil {
		t.Errorf("third connection served (%q) beyond MaxConns 2", line)
	}
	// ...and the two kept-alive ones are closed once idle, after which a
	// new one is served.
	time.Sleep(1200 * time.Millisecond)
	a.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Errorf("an idle kept-alive connection is still open")
	}
	d := dial()
	defer d.Close()
	if line, err := get(d, 2*time.Second); err != nil || !strings.Contains(line, "404") {
		t.Errorf("a new connection after the idle ones closed: %q, %v; want 404", line, err)
	}
}
