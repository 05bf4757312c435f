package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestNC sends a request the way the e2e specs do and expects the
// server's reply, over UDP and TCP; a closed UDP port is an error.
func TestNC(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	go func() {
		buf := make([]byte, 100)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = udp.WriteTo([]byte("reply to "+strings.TrimSpace(string(buf[:n]))), from)
		}
	}()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 100)
			n, _ := c.Read(buf)
			_, _ = c.Write([]byte("reply to " + strings.TrimSpace(string(buf[:n]))))
			c.Close()
		}
	}()
	port := func(a net.Addr) string {
		_, p, _ := net.SplitHostPort(a.String())
		return p
	}
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := port(closed.LocalAddr())
	closed.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		wantOut  string
		wantCode int
	}{
		{"udp", []string{"-w", "1", "-u", "127.0.0.1", port(udp.LocalAddr())}, "reply to hostName", 0},
		{"udp, joined flags", []string{"-vuw1", "127.0.0.1", port(udp.LocalAddr())}, "reply to hostName", 0},
		{"tcp", []string{"-v", "-t", "-w", "2", "127.0.0.1", port(tcp.Addr())}, "reply to hostName", 0},
		{"tcp, only connect", []string{"-z", "127.0.0.1", port(tcp.Addr())}, "", 0},
		{"udp, nobody listens", []string{"-w", "1", "-u", "127.0.0.1", closedPort}, "", 1},
		{"tcp, nobody listens", []string{"-w", "1", "127.0.0.1", closedPort}, "", 1},
		{"bad timeout", []string{"-w", "x", "127.0.0.1", "1"}, "", 1},
		{"no port", []string{"127.0.0.1"}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := nc(tc.args, strings.NewReader("hostName\n"), &out, &errOut)
			if code != tc.wantCode || out.String() != tc.wantOut {
				t.Errorf("nc %v = %d, %q (stderr %q); want %d, %q", tc.args, code, out.String(), errOut.String(), tc.wantCode, tc.wantOut)
			}
		})
	}
}
