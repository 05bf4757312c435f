// Package streaming serves exec, attach and port-forward streams. The CRI
// Exec, Attach and PortForward RPCs return single-use URLs on this server;
// the kubelet, or crictl, connects to them.
//
// SPDY and the websocket channel protocols up to v4 are served by
// k8s.io/cri-streaming's protocol handlers. What those lack, this package
// adds: remote command over websocket v5 (v5.channel.k8s.io, with its
// half-close of stdin), and port-forward as SPDY tunnelled through a
// websocket (SPDY/3.1+portforward.k8s.io). Those are what client-go, and so
// crictl --transport websocket, speak.
package streaming

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// Runtime runs the streams that the server accepted (implemented by the CRI
// runtime service).
type Runtime interface {
	Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, err io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	Attach(ctx context.Context, containerID string, in io.Reader, out, err io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error
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
	// MaxConns bounds the connections open at once (streams included);
	// more wait to be accepted. 0 means DefaultMaxConns.
	MaxConns int
	// ConnIdleTimeout closes a kept-alive connection that carries no
	// request (a refused token's, say). 0 means DefaultConnIdleTimeout.
	ConnIdleTimeout time.Duration
}

// The defaults of Options.MaxConns and Options.ConnIdleTimeout: any local
// process, host-network pods among them, can reach the port, and must not
// run the daemon out of descriptors.
const (
	DefaultMaxConns        = 1000
	DefaultConnIdleTimeout = time.Minute
)

// streamCreationTimeout bounds how long a SPDY client may take to open the
// streams of a session.
const streamCreationTimeout = 30 * time.Second

// Server is a running streaming server.
type Server struct {
	rt      Runtime
	tokens  *tokens
	base    *url.URL
	idle    time.Duration
	handler http.Handler
	http    *http.Server
	// URL is the server's base URL, with the real port.
	URL string
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
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.ConnIdleTimeout == 0 {
		o.ConnIdleTimeout = DefaultConnIdleTimeout
	}
	ln = netutil.LimitListener(ln, o.MaxConns)
	base := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	if tlsCfg != nil {
		base.Scheme = "https"
		ln = tls.NewListener(ln, tlsCfg)
	}
	s := &Server{rt: rt, tokens: newTokens(), base: base, idle: o.IdleTimeout, URL: base.String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{token}", s.serveExec)
	mux.HandleFunc("/attach/{token}", s.serveAttach)
	mux.HandleFunc("/portforward/{token}", s.servePortForward)
	s.handler = mux
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: o.ConnIdleTimeout}
	// Serve returns only when Close is called (or the listener fails, after
	// which streams fail with connection errors the clients report).
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// ServeHTTP serves one stream request (the server's own listener does this;
// it is exported for embedding the server in another).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close stops the server and every open stream.
func (s *Server) Close() error { return s.http.Close() }

// GetExec returns the URL that serves req.
func (s *Server) GetExec(req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := checkStdio(req.GetContainerId(), req.GetStdin(), req.GetStdout(), req.GetStderr(), req.GetTty()); err != nil {
		return nil, err
	}
	u, err := s.url("exec", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ExecResponse{Url: u}, nil
}

// GetAttach returns the URL that serves req.
func (s *Server) GetAttach(req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := checkStdio(req.GetContainerId(), req.GetStdin(), req.GetStdout(), req.GetStderr(), req.GetTty()); err != nil {
		return nil, err
	}
	u, err := s.url("attach", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.AttachResponse{Url: u}, nil
}

// GetPortForward returns the URL that serves req.
func (s *Server) GetPortForward(req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if req.GetPodSandboxId() == "" {
		return nil, status.Error(codes.InvalidArgument, "pod_sandbox_id is required")
	}
	u, err := s.url("portforward", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PortForwardResponse{Url: u}, nil
}

func checkStdio(containerID string, stdin, stdout, stderr, tty bool) error {
	switch {
	case containerID == "":
		return status.Error(codes.InvalidArgument, "container_id is required")
	case tty && stderr:
		return status.Error(codes.InvalidArgument, "tty and stderr cannot both be set (a terminal has one output stream)")
	case !stdin && !stdout && !stderr:
		return status.Error(codes.InvalidArgument, "one of stdin, stdout and stderr is required")
	}
	return nil
}

func (s *Server) url(method string, req any) (string, error) {
	token, err := s.tokens.insert(req)
	if err != nil {
		return "", err
	}
	return s.base.JoinPath(method, token).String(), nil
}

// request returns the pending request of the URL's token, or answers 404.
func request[T any](s *Server, w http.ResponseWriter, r *http.Request) (T, bool) {
	pending, ok := s.tokens.consume(r.PathValue("token"))
	req, isT := pending.(T)
	if !ok || !isT {
		http.NotFound(w, r)
	}
	return req, ok && isT
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	req, ok := request[*runtimeapi.ExecRequest](s, w, r)
	if !ok {
		return
	}
	opts := &remotecommand.Options{Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr, TTY: req.Tty}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveWebsocketV5(w, r, opts, s.idle, func(in io.Reader, out, errW io.WriteCloser, resize <-chan remotecommand.TerminalSize) error {
			return s.rt.Exec(r.Context(), req.ContainerId, req.Cmd, in, out, errW, req.Tty, resize)
		})
		return
	}
	remotecommand.ServeExec(w, r, adapter{s.rt}, "", "", req.ContainerId, req.Cmd, opts,
		s.idle, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	req, ok := request[*runtimeapi.AttachRequest](s, w, r)
	if !ok {
		return
	}
	opts := &remotecommand.Options{Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr, TTY: req.Tty}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveWebsocketV5(w, r, opts, s.idle, func(in io.Reader, out, errW io.WriteCloser, resize <-chan remotecommand.TerminalSize) error {
			return s.rt.Attach(r.Context(), req.ContainerId, in, out, errW, req.Tty, resize)
		})
		return
	}
	remotecommand.ServeAttach(w, r, adapter{s.rt}, "", "", req.ContainerId, opts,
		s.idle, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	req, ok := request[*runtimeapi.PortForwardRequest](s, w, r)
	if !ok {
		return
	}
	spdy := func(w http.ResponseWriter, r *http.Request) {
		opts, err := portforward.BuildV4Options(req.Port)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		portforward.ServePortForward(w, r, adapter{s.rt}, req.PodSandboxId, "", opts,
			s.idle, streamCreationTimeout, portforward.SupportedProtocols)
	}
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		serveSPDYTunnel(w, r, spdy)
		return
	}
	spdy(w, r)
}

// adapter gives the Runtime the shapes cri-streaming's handlers call: the
// container ID travels as the container name, the sandbox ID as the pod name.
type adapter struct{ rt Runtime }

func (a adapter) ExecInContainer(ctx context.Context, _, _, container string, cmd []string, in io.Reader, out, errW io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return a.rt.Exec(ctx, container, cmd, in, out, errW, tty, resize)
}

func (a adapter) AttachContainer(ctx context.Context, _, _, container string, in io.Reader, out, errW io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return a.rt.Attach(ctx, container, in, out, errW, tty, resize)
}

func (a adapter) PortForward(ctx context.Context, pod, _ string, port int32, stream io.ReadWriteCloser) error {
	return a.rt.PortForward(ctx, pod, port, stream)
}
