// Package streaming serves exec, attach and port-forward streams (SPDY and
// websocket) on k8s.io/cri-streaming. The CRI Exec/Attach/PortForward RPCs
// return URLs on this server; the kubelet, or crictl, connects to them.
package streaming

import (
	"crypto/tls"
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

// Options configure the streaming server.
type Options struct {
	// Address and Port to listen on; port 0 picks a free one.
	Address string
	Port    int
	// IdleTimeout closes a stream without traffic.
	IdleTimeout time.Duration
	// TLSCertFile and TLSKeyFile, if set, serve over HTTPS.
	TLSCertFile, TLSKeyFile string
}

// Start listens as o says and serves streams for rt until Close. The
// advertised URLs carry the real listening address and the scheme.
func Start(o Options, rt Runtime) (*Server, error) {
	var tlsCfg *tls.Config
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("streaming server TLS: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Address, strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = ln.Addr().String()
	cfg.BaseURL = &url.URL{Scheme: "http", Host: cfg.Addr}
	if tlsCfg != nil {
		cfg.BaseURL.Scheme = "https"
		cfg.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
	}
	cfg.StreamIdleTimeout = o.IdleTimeout
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
