// Package streaming serves exec, attach and port-forward streams (SPDY and
// websocket) on k8s.io/cri-streaming. The CRI Exec/Attach/PortForward RPCs
// return URLs on this server; the kubelet, or crictl, connects to them.
package streaming

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"k8s.io/cri-streaming/pkg/streaming"
)

// Runtime is what the server runs streams on (implemented by the CRI
// runtime service).
type Runtime = streaming.Runtime

// Server is a running streaming server.
type Server struct {
	streaming.Server
	http *http.Server
	// URL is the server's base URL, with the real port.
	URL string
}

// Start listens on address:port (port 0 picks one) and serves streams for
// rt until Close. The advertised URLs carry the real listening address.
func Start(address string, port int, idleTimeout time.Duration, rt Runtime) (*Server, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = ln.Addr().String()
	cfg.BaseURL = &url.URL{Scheme: "http", Host: cfg.Addr}
	cfg.StreamIdleTimeout = idleTimeout
	s, err := streaming.NewServer(cfg, rt)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	srv := &Server{Server: s, http: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}, URL: cfg.BaseURL.String()}
	// Serve returns only when Close is called (or the listener fails, after
	// which streams fail with connection errors the clients report).
	go func() { _ = srv.http.Serve(ln) }()
	return srv, nil
}

// Close stops the server and every open stream.
func (s *Server) Close() error { return s.http.Close() }
