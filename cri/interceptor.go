package cri

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type rpcKey struct{}

// Logger returns the request-scoped logger of the RPC that ctx belongs to
// (carrying the method and request id), or slog.Default() outside an RPC.
func Logger(ctx context.Context) *slog.Logger {
	if r, ok := ctx.Value(rpcKey{}).(*rpc); ok {
		return r.logger()
	}
	return slog.Default()
}

// UnaryInterceptor is the interceptor of the CRI server's unary RPCs. For
// every RPC it
//   - gives the request an id and a logger carrying it (see Logger),
//   - turns a panic in a handler into codes.Internal instead of a daemon crash,
//   - converts the handler's error to a gRPC status, once, here (errdefs
//     classes become their codes; unclassified errors become Unknown),
//   - writes exactly one log line: method, ids from the request, duration, code.
//
// Polling RPCs (see quiet) are logged at debug level unless they fail.
// observe, if not nil, also receives each RPC's method, code and duration.
// StreamInterceptor does the same for streaming RPCs.
func UnaryInterceptor(base *slog.Logger, observe func(method, code string, d time.Duration)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		r := begin(base, info.FullMethod)
		ctx = context.WithValue(ctx, rpcKey{}, r)
		defer func() {
			if p := recover(); p != nil {
				resp, err = nil, r.panicked(p)
			}
			err = r.end(req, err, observe)
		}()
		return handler(ctx, req)
	}
}

// StreamInterceptor is UnaryInterceptor's twin for streaming RPCs (events,
// Stream* lists and stats): the same request id and logger, panic
// recovery, status conversion, log line (when the stream ends) and
// observation. Every stream's context also ends when stop does (the
// daemon is shutting down), so that open streams end at once rather than
// hold a graceful stop for its whole grace period.
func StreamInterceptor(stop context.Context, base *slog.Logger, observe func(method, code string, d time.Duration)) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		r := begin(base, info.FullMethod)
		ctx, cancel := context.WithCancel(context.WithValue(ss.Context(), rpcKey{}, r))
		defer cancel()
		defer context.AfterFunc(stop, cancel)()
		w := &loggedStream{ServerStream: ss, ctx: ctx}
		defer func() {
			if p := recover(); p != nil {
				err = r.panicked(p)
			}
			err = r.end(w.req, err, observe)
		}()
		return handler(srv, w)
	}
}

// loggedStream gives a stream its interceptor's context and keeps its
// request (the first message received) for the log line.
type loggedStream struct {
	grpc.ServerStream
	ctx context.Context
	req any
}

func (s *loggedStream) Context() context.Context { return s.ctx }

func (s *loggedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.req == nil {
		s.req = m
	}
	return err
}

// rpc is one call in progress, from begin to end.
type rpc struct {
	start  time.Time
	method string
	base   *slog.Logger
	// log is base with the method and request id, made on first use: most
	// calls (a node's polling) log nothing.
	once sync.Once
	log  *slog.Logger
}

func begin(base *slog.Logger, fullMethod string) *rpc {
	return &rpc{start: time.Now(), method: shortMethod(fullMethod), base: base}
}

func (r *rpc) logger() *slog.Logger {
	r.once.Do(func() { r.log = r.base.With("method", r.method, "request_id", newRequestID()) })
	return r.log
}

// panicked logs a handler's panic and returns the error the caller gets.
func (r *rpc) panicked(p any) error {
	r.logger().Error("panic in handler", "panic", p, "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "%s: internal error: %v", r.method, p)
}

// end converts err to a status, observes the call and writes its one log
// line, and returns the status error.
func (r *rpc) end(req any, err error, observe func(method, code string, d time.Duration)) error {
	err = ToStatus(err)
	code := status.Code(err)
	if observe != nil {
		observe(r.method, code.String(), time.Since(r.start))
	}
	level := slog.LevelInfo
	switch {
	case err != nil && isServerFault(code):
		level = slog.LevelError
	case err != nil:
		level = slog.LevelWarn
	case quiet(r.method):
		level = slog.LevelDebug
	}
	if !r.base.Enabled(context.Background(), level) {
		return err
	}
	attrs := append(requestIDs(req), "duration", time.Since(r.start), "code", code.String())
	if err != nil {
		attrs = append(attrs, "error", status.Convert(err).Message())
	}
	r.logger().Log(context.Background(), level, "rpc", attrs...)
	return err
}

// ToStatus converts err to a gRPC status error. Errors that already are
// statuses pass through; errdefs classes map to their codes; context errors
// become Canceled or DeadlineExceeded; anything else becomes Unknown.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	err = errgrpc.ToGRPC(err)
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unknown, err.Error())
}

// isServerFault tells whether a code means cria failed (logged as an error)
// rather than the caller asked for something wrong (logged as a warning).
func isServerFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unavailable, codes.Unimplemented:
		return true
	}
	return false
}

// quiet reports whether method is one the kubelet polls every second or so.
func quiet(method string) bool {
	return strings.HasPrefix(method, "List") || strings.HasPrefix(method, "Stream") || strings.HasSuffix(method, "Status") ||
		strings.HasSuffix(method, "Stats") || method == "Version" || method == "ImageFsInfo"
}

// shortMethod turns "/runtime.v1.RuntimeService/Version" into "Version".
func shortMethod(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[i+1:]
	}
	return full
}

// requestIDs returns the identifiers a request names, as slog attributes.
func requestIDs(req any) []any {
	var attrs []any
	if r, ok := req.(interface{ GetPodSandboxId() string }); ok && r.GetPodSandboxId() != "" {
		attrs = append(attrs, "pod_sandbox_id", r.GetPodSandboxId())
	}
	if r, ok := req.(interface{ GetContainerId() string }); ok && r.GetContainerId() != "" {
		attrs = append(attrs, "container_id", r.GetContainerId())
	}
	return attrs
}

func newRequestID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}
