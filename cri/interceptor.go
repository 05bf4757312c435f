package cri

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type loggerKey struct{}

// Logger returns the request-scoped logger that the interceptor put in ctx
// (carrying the method and request id), or slog.Default() outside an RPC.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// UnaryInterceptor is the one interceptor of the CRI server. For every RPC it
//   - gives the request an id and a logger carrying it (see Logger),
//   - turns a panic in a handler into codes.Internal instead of a daemon crash,
//   - converts the handler's error to a gRPC status, once, here (errdefs
//     classes become their codes; unclassified errors become Unknown),
//   - writes exactly one log line: method, ids from the request, duration, code.
//
// Polling RPCs (see quiet) are logged at debug level unless they fail.
// observe, if not nil, also receives each RPC's method, code and duration.
func UnaryInterceptor(base *slog.Logger, observe func(method, code string, d time.Duration)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		method := shortMethod(info.FullMethod)
		log := base.With("method", method, "request_id", newRequestID())
		ctx = context.WithValue(ctx, loggerKey{}, log)

		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in handler", "panic", p, "stack", string(debug.Stack()))
				resp, err = nil, status.Errorf(codes.Internal, "%s: internal error: %v", method, p)
			}
			err = ToStatus(err)
			code := status.Code(err)
			if observe != nil {
				observe(method, code.String(), time.Since(start))
			}
			attrs := append(requestIDs(req), "duration", time.Since(start), "code", code.String())
			level := slog.LevelInfo
			switch {
			case err != nil && isServerFault(code):
				level = slog.LevelError
			case err != nil:
				level = slog.LevelWarn
			case quiet(method):
				level = slog.LevelDebug
			}
			if err != nil {
				attrs = append(attrs, "error", status.Convert(err).Message())
			}
			log.Log(context.Background(), level, "rpc", attrs...)
		}()
		return handler(ctx, req)
	}
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
	return strings.HasPrefix(method, "List") || strings.HasSuffix(method, "Status") ||
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
