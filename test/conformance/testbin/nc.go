package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// nc is the client part of netcat that Kubernetes' e2e specs use
// (`echo hostName | nc [-v] [-t|-u] -w 1 HOST PORT`), which Debian's
// busybox nc lacks (no -u): it sends its standard input to HOST:PORT and
// prints what comes back. With -w N, connecting gives up after N seconds
// and the reply is read until the peer is silent for N seconds (UDP has no
// end, so that is how a UDP exchange ends). -z only connects; -v reports
// the connection on standard error.
func nc(args []string, in io.Reader, out, errOut io.Writer) int {
	network := "tcp"
	var timeout time.Duration
	var verbose, zero bool
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || len(rest) > 0 {
			rest = append(rest, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			switch a[j] {
			case 'u':
				network = "udp"
			case 't':
				network = "tcp"
			case 'v':
				verbose = true
			case 'z':
				zero = true
			case 'n':
			case 'w':
				v := a[j+1:]
				if v == "" && i+1 < len(args) {
					i++
					v = args[i]
				}
				s, err := strconv.Atoi(v)
				if err != nil || s < 0 {
					fmt.Fprintf(errOut, "nc: bad timeout %q\n", v)
					return 1
				}
				timeout = time.Duration(s) * time.Second
				j = len(a)
			default:
				fmt.Fprintf(errOut, "nc: unknown option -%c\n", a[j])
				return 1
			}
		}
	}
	if len(rest) != 2 {
		fmt.Fprintln(errOut, "usage: nc [-tuvz] [-w secs] host port")
		return 1
	}
	addr := net.JoinHostPort(rest[0], rest[1])
	conn, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		fmt.Fprintf(errOut, "nc: connect to %s (%s): %v\n", addr, network, err)
		return 1
	}
	defer conn.Close()
	if verbose {
		fmt.Fprintf(errOut, "Connection to %s %s port [%s] succeeded!\n", rest[0], rest[1], network)
	}
	if zero {
		return 0
	}
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if c, ok := conn.(*net.TCPConn); ok && err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	if network == "udp" {
		// Nothing tells that a reply is complete: read until quiet.
		if err := <-sent; err != nil {
			fmt.Fprintf(errOut, "nc: %v\n", err)
			return 1
		}
		if timeout == 0 {
			timeout = time.Second
		}
	}
	buf := make([]byte, 64<<10)
	for {
		if timeout > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(timeout))
		}
		n, err := conn.Read(buf)
		if n > 0 {
			_, _ = out.Write(buf[:n])
		}
		var ne net.Error
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.As(err, &ne) && ne.Timeout():
			return 0
		default:
			if network == "udp" {
				// ICMP port unreachable: nobody listens there.
				fmt.Fprintf(errOut, "nc: %v\n", err)
				return 1
			}
			return 0
		}
	}
}
