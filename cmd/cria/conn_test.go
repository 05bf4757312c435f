package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// unixPair returns the two ends of a unix connection: dialled (plain) and
// accepted, as a quietConn if quietly.
func unixPair(tb testing.TB, quietly bool) (net.Conn, net.Conn) {
	tb.Helper()
	ln, err := net.Listen("unix", filepath.Join(tb.TempDir(), "s"))
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	dialled, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { dialled.Close() })
	accept := ln.Accept
	if quietly {
		q, err := listenQuietly(ln.(*net.UnixListener))
		if err != nil {
			tb.Fatal(err)
		}
		defer q.dup.Close()
		accept = q.Accept
	}
	accepted, err := accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { accepted.Close() })
	return dialled, accepted
}

// quietPair returns a quietConn accepted on a unix socket and the plain
// connection that dialled it.
func quietPair(t *testing.T) (*quietConn, net.Conn) {
	peer, c := unixPair(t, true)
	q, ok := c.(*quietConn)
	if !ok {
		t.Fatalf("Accept gave a %T, want a *quietConn", c)
	}
	return q, peer
}

func TestQuietConnCarriesBytesBothWays(t *testing.T) {
	q, peer := quietPair(t)
	// 8 MiB is many times the socket's buffer: writes wait for the peer
	// to read, and reads wait for the peer to write.
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for _, dir := range []struct {
		name     string
		from, to net.Conn
	}{{"quiet to peer", q, peer}, {"peer to quiet", peer, q}} {
		t.Run(dir.name, func(t *testing.T) {
			wrote := make(chan error, 1)
			go func() {
				n, err := dir.from.Write(want)
				if err == nil && n != len(want) {
					err = io.ErrShortWrite
				}
				wrote <- err
			}()
			got := make([]byte, len(want))
			// Small reads, with pauses, so that the writer finds the
			// socket full.
			for off := 0; off < len(got); {
				n, err := dir.to.Read(got[off:min(off+100_000, len(got))])
				if err != nil {
					t.Fatalf("read at %d: %v", off, err)
				}
				off += n
				if off%(1<<20) < n {
					time.Sleep(time.Millisecond)
				}
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the bytes read are not the bytes written")
			}
		})
	}
}

func TestQuietConnEnds(t *testing.T) {
	t.Run("peer closes: EOF", func(t *testing.T) {
		q, peer := quietPair(t)
		peer.Write([]byte("last"))
		peer.Close()
		if b, err := io.ReadAll(q); err != nil || string(b) != "last" {
			t.Errorf("ReadAll = %q, %v; want the last bytes, then EOF", b, err)
		}
		if n, err := q.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("Read after EOF = %d, %v; want 0, EOF", n, err)
		}
	})
	t.Run("read deadline", func(t *testing.T) {
		q, _ := quietPair(t)
		q.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := q.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read past its deadline: %v, want a deadline error", err)
		}
	})
	t.Run("write deadline", func(t *testing.T) {
		q, _ := quietPair(t)
		q.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		// Nobody reads: the socket fills, and the write waits until its
		// deadline.
		n, err := q.Write(make([]byte, 64<<20))
		if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n == 64<<20 {
			t.Errorf("Write past its deadline: %d bytes, %v; want some bytes and a deadline error", n, err)
		}
	})
	t.Run("closed while reading", func(t *testing.T) {
		q, _ := quietPair(t)
		read := make(chan error, 1)
		go func() {
			_, err := q.Read(make([]byte, 1))
			read <- err
		}()
		time.Sleep(50 * time.Millisecond)
		q.Close()
		select {
		case err := <-read:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read on a closed connection: %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read still waits after Close")
		}
		if _, err := q.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write on a closed connection: %v, want net.ErrClosed", err)
		}
	})
	t.Run("peer gone: write fails", func(t *testing.T) {
		q, peer := quietPair(t)
		peer.Close()
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = q.Write(make([]byte, 1<<16))
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "write" {
			t.Errorf("Write to a closed peer: %v, want a write error", err)
		}
	})
}

// BenchmarkConnRoundTrip times a round trip of 100 bytes each way between
// two connections of one process, with the process idle for a millisecond
// between round trips, as between a kubelet's calls: a plain unix
// connection (the kubelet's end) against an accepted one, plain or a
// quietConn. It reports the process's CPU and context switches (each a
// thread put to sleep) per round trip.
func BenchmarkConnRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name    string
		quietly bool
	}{{"plain", false}, {"quiet", true}} {
		b.Run(bc.name, func(b *testing.B) {
			client, server := unixPair(b, bc.quietly)
			go func() {
				buf := make([]byte, 100)
				for {
					if _, err := io.ReadFull(server, buf); err != nil {
						return
					}
					if _, err := server.Write(buf); err != nil {
						return
					}
				}
			}()
			msg, reply := make([]byte, 100), make([]byte, 100)
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			for range b.N {
				if _, err := client.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(client, reply); err != nil {
					b.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(syscall.TimevalToNsec(after.Utime) + syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Utime) - syscall.TimevalToNsec(before.Stime))
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(after.Nvcsw+after.Nivcsw-before.Nvcsw-before.Nivcsw)/float64(b.N), "ctxsw/op")
		})
	}
}

// TestQuietListenerClose: Close ends an Accept that waits, with the error
// that tells grpc's Serve that its listener is closed.
func TestQuietListenerClose(t *testing.T) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := listenQuietly(ln)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		_, err := q.Accept()
		accepted <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept on a closed listener: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
	if _, err := q.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
