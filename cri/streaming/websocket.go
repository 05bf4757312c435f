package streaming

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// serveWebsocketV5 runs one exec or attach session over the websocket
// channel protocol v5.channel.k8s.io: every message is a channel byte
// (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize) and its data, and the
// message {255, ch} closes channel ch, so the client can end stdin while
// the command still writes. Streams the request did not ask for are passed
// to run as nil, as the SPDY handlers do.
func serveWebsocketV5(w http.ResponseWriter, r *http.Request, opts *remotecommand.Options, idle time.Duration,
	run func(in io.Reader, out, errW io.WriteCloser, resize <-chan remotecommand.TerminalSize) error) {
	pick := func(want bool, t wsstream.ChannelType) wsstream.ChannelType {
		if want {
			return t
		}
		return wsstream.IgnoreChannel
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		remotecommand.StreamProtocolV5Name: {Binary: true, Channels: []wsstream.ChannelType{
			remotecommand.StreamStdIn:  pick(opts.Stdin, wsstream.ReadChannel),
			remotecommand.StreamStdOut: pick(opts.Stdout, wsstream.WriteChannel),
			remotecommand.StreamStdErr: pick(opts.Stderr, wsstream.WriteChannel),
			remotecommand.StreamErr:    wsstream.WriteChannel,
			remotecommand.StreamResize: pick(opts.TTY, wsstream.ReadChannel),
		}},
	})
	conn.SetIdleTimeout(idle)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		slog.Warn("websocket stream: upgrade failed", "path", r.URL.Path, "err", err)
		return
	}
	defer conn.Close()

	var in io.Reader
	var out, errW io.WriteCloser
	if opts.Stdin {
		in = streams[remotecommand.StreamStdIn]
	}
	// An empty message on the first output channel tells the client that the
	// session is up.
	switch {
	case opts.Stdout:
		out = streams[remotecommand.StreamStdOut]
		_, _ = out.Write(nil)
	case opts.Stderr:
		_, _ = streams[remotecommand.StreamStdErr].Write(nil)
	default:
		_, _ = streams[remotecommand.StreamErr].Write(nil)
	}
	if opts.Stderr {
		errW = streams[remotecommand.StreamStdErr]
	}
	var resize chan remotecommand.TerminalSize
	if opts.TTY {
		resize = make(chan remotecommand.TerminalSize)
		go decodeResizes(r.Context(), streams[remotecommand.StreamResize], resize)
	}
	st := statusOf(run(in, out, errW, resize))
	b, _ := json.Marshal(st)
	_, _ = streams[remotecommand.StreamErr].Write(b)
}

// decodeResizes turns the JSON terminal sizes of the resize channel into
// resize events, until the channel closes.
func decodeResizes(ctx context.Context, r io.Reader, sizes chan<- remotecommand.TerminalSize) {
	defer close(sizes)
	dec := json.NewDecoder(r)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case sizes <- size:
		case <-ctx.Done():
			return
		}
	}
}

// status is the Kubernetes Status object that ends a v4 or v5 session on
// the status channel: success, a non-zero exit code, or an internal error.
type streamStatus struct {
	Status  string         `json:"status,omitempty"`
	Message string         `json:"message,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Details *statusDetails `json:"details,omitempty"`
	Code    int32          `json:"code,omitempty"`
}

type statusDetails struct {
	Causes []statusCause `json:"causes,omitempty"`
}

type statusCause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func statusOf(err error) streamStatus {
	var exit utilexec.ExitError
	switch {
	case err == nil:
		return streamStatus{Status: "Success"}
	case errors.As(err, &exit) && exit.Exited():
		return streamStatus{
			Status:  "Failure",
			Reason:  remotecommand.NonZeroExitCodeReason,
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", err),
			Details: &statusDetails{Causes: []statusCause{{Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(exit.ExitStatus())}}},
		}
	default:
		return streamStatus{
			Status:  "Failure",
			Reason:  "InternalError",
			Message: fmt.Sprintf("Internal error occurred: %v", err),
			Code:    http.StatusInternalServerError,
		}
	}
}

// tunnelPrefix marks a websocket subprotocol that carries a SPDY session,
// as in SPDY/3.1+portforward.k8s.io.
const tunnelPrefix = "SPDY/3.1+"

// serveSPDYTunnel accepts a websocket whose binary messages carry a SPDY
// session (client-go's port-forward over websockets) and runs serveSPDY on
// it, as if the client had upgraded this request to SPDY directly.
func serveSPDYTunnel(w http.ResponseWriter, r *http.Request, serveSPDY http.HandlerFunc) {
	var inner []string
	for _, p := range strings.Split(r.Header.Get(wsstream.WebSocketProtocolHeader), ",") {
		if p = strings.TrimSpace(p); strings.HasPrefix(p, tunnelPrefix) && strings.HasSuffix(p, ".k8s.io") {
			inner = append(inner, strings.TrimPrefix(p, tunnelPrefix))
		}
	}
	if len(inner) == 0 {
		http.Error(w, "no SPDY tunnelling subprotocol offered", http.StatusBadRequest)
		return
	}

	conns := make(chan *websocket.Conn)
	release := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		websocket.Server{
			Handshake: func(cfg *websocket.Config, _ *http.Request) error {
				cfg.Protocol = []string{tunnelPrefix + inner[0]}
				return nil
			},
			Handler: func(ws *websocket.Conn) {
				ws.PayloadType = websocket.BinaryFrame
				conns <- ws
				<-release
			},
		}.ServeHTTP(w, r)
	}()
	var ws *websocket.Conn
	select {
	case ws = <-conns:
	case <-served:
		return // the websocket handshake failed and was answered
	}
	defer func() { close(release); <-served }()

	spdyReq := r.Clone(r.Context())
	spdyReq.Method = http.MethodPost
	spdyReq.Body = http.NoBody
	for _, h := range []string{wsstream.WebSocketProtocolHeader, "Sec-Websocket-Key", "Sec-Websocket-Version", httpstream.HeaderProtocolVersion} {
		spdyReq.Header.Del(h)
	}
	spdyReq.Header.Set(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	spdyReq.Header.Set(httpstream.HeaderUpgrade, spdy.HeaderSpdy31)
	for _, p := range inner {
		spdyReq.Header.Add(httpstream.HeaderProtocolVersion, p)
	}
	serveSPDY(&tunnelWriter{ws: ws, header: http.Header{}}, spdyReq)
}

// tunnelWriter is the response writer of a SPDY upgrade inside a websocket
// tunnel. The websocket's own handshake already answered the client, so the
// 101 of the SPDY upgrade is not sent, and Hijack hands over the websocket:
// the SPDY session starts at its first message. An error answer (a
// failed SPDY handshake) cannot travel back and closes the tunnel instead.
type tunnelWriter struct {
	ws     *websocket.Conn
	header http.Header
	mu     sync.Mutex
	failed bool
}

func (t *tunnelWriter) Header() http.Header { return t.header }

func (t *tunnelWriter) WriteHeader(code int) {
	if code != http.StatusSwitchingProtocols {
		t.mu.Lock()
		t.failed = true
		t.mu.Unlock()
		slog.Warn("port-forward tunnel: SPDY upgrade refused", "status", code)
		_ = t.ws.Close()
	}
}

func (t *tunnelWriter) Write(p []byte) (int, error) { return len(p), nil }

func (t *tunnelWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed {
		return nil, nil, errors.New("port-forward tunnel is closed")
	}
	return t.ws, bufio.NewReadWriter(bufio.NewReader(t.ws), bufio.NewWriter(t.ws)), nil
}
