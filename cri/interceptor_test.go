package cri

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestToStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"invalid argument wrapped", fmt.Errorf("field metadata.name: %w", errdefs.ErrInvalidArgument), codes.InvalidArgument},
		{"not found", fmt.Errorf("container %q: %w", "abc", errdefs.ErrNotFound), codes.NotFound},
		{"already exists", errdefs.ErrAlreadyExists, codes.AlreadyExists},
		{"failed precondition", fmt.Errorf("not running: %w", errdefs.ErrFailedPrecondition), codes.FailedPrecondition},
		{"unavailable", errdefs.ErrUnavailable, codes.Unavailable},
		{"deadline", fmt.Errorf("pull: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"canceled", context.Canceled, codes.Canceled},
		{"existing status passes", status.Error(codes.ResourceExhausted, "too big"), codes.ResourceExhausted},
		{"wrapped status passes", fmt.Errorf("outer: %w", status.Error(codes.NotFound, "x")), codes.NotFound},
		{"plain error is unknown", errors.New("boom"), codes.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(ToStatus(tc.err)); got != tc.want {
				t.Errorf("ToStatus(%v) code = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestInterceptorLogsOneLinePerRPC(t *testing.T) {
	for _, tc := range []struct {
		name      string
		method    string
		req       any
		handler   grpc.UnaryHandler
		wantCode  codes.Code
		wantLevel string
		wantAttrs []string
	}{
		{
			name:      "ok mutating rpc at info with ids",
			method:    "/runtime.v1.RuntimeService/StopContainer",
			req:       &runtimeapi.StopContainerRequest{ContainerId: "c1"},
			handler:   func(ctx context.Context, req any) (any, error) { return &runtimeapi.StopContainerResponse{}, nil },
			wantCode:  codes.OK,
			wantLevel: "INFO",
			wantAttrs: []string{"method=StopContainer", "container_id=c1", "code=OK", "request_id=", "duration="},
		},
		{
			name:      "polling rpc at debug",
			method:    "/runtime.v1.RuntimeService/ListContainers",
			req:       &runtimeapi.ListContainersRequest{},
			handler:   func(ctx context.Context, req any) (any, error) { return &runtimeapi.ListContainersResponse{}, nil },
			wantCode:  codes.OK,
			wantLevel: "DEBUG",
			wantAttrs: []string{"method=ListContainers", "code=OK"},
		},
		{
			name:   "classified error becomes its code, logged as warning",
			method: "/runtime.v1.RuntimeService/PodSandboxStatus",
			req:    &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "p1"},
			handler: func(ctx context.Context, req any) (any, error) {
				return nil, fmt.Errorf("sandbox %q: %w", "p1", errdefs.ErrNotFound)
			},
			wantCode:  codes.NotFound,
			wantLevel: "WARN",
			wantAttrs: []string{"pod_sandbox_id=p1", "code=NotFound", `error="sandbox \"p1\": not found"`},
		},
		{
			name:      "panic becomes internal, logged as error",
			method:    "/runtime.v1.RuntimeService/Version",
			req:       &runtimeapi.VersionRequest{},
			handler:   func(ctx context.Context, req any) (any, error) { panic("bad") },
			wantCode:  codes.Internal,
			wantLevel: "ERROR",
			wantAttrs: []string{"code=Internal"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			icpt := UnaryInterceptor(log, nil)
			_, err := icpt(context.Background(), tc.req, &grpc.UnaryServerInfo{FullMethod: tc.method}, tc.handler)
			if got := status.Code(err); got != tc.wantCode {
				t.Errorf("code = %v, want %v", got, tc.wantCode)
			}
			rpcLines := rpcLogLines(buf.String())
			if len(rpcLines) != 1 {
				t.Fatalf("got %d rpc log lines, want 1:\n%s", len(rpcLines), buf.String())
			}
			if !strings.Contains(rpcLines[0], "level="+tc.wantLevel) {
				t.Errorf("log line %q: want level %s", rpcLines[0], tc.wantLevel)
			}
			for _, a := range tc.wantAttrs {
				if !strings.Contains(rpcLines[0], a) {
					t.Errorf("log line %q lacks %q", rpcLines[0], a)
				}
			}
		})
	}
}

// rpcLogLines returns the interceptor's "rpc" lines of a log.
func rpcLogLines(log string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if strings.Contains(l, "msg=rpc") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestLoggerFromContext(t *testing.T) {
	var buf bytes.Buffer
	icpt := UnaryInterceptor(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	_, err := icpt(context.Background(), &runtimeapi.VersionRequest{}, &grpc.UnaryServerInfo{FullMethod: "/x/RunPodSandbox"},
		func(ctx context.Context, req any) (any, error) {
			Logger(ctx).Info("inside")
			return nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "msg=inside method=RunPodSandbox request_id=") {
		t.Errorf("handler log line lacks the request's method and id:\n%s", buf.String())
	}
}

// fakeStream is a server stream whose one incoming message is req.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }
func (s *fakeStream) RecvMsg(m any) error {
	*m.(*runtimeapi.ListContainersRequest) = runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: "p9"}}
	return nil
}

func TestStreamInterceptor(t *testing.T) {
	for _, tc := range []struct {
		name      string
		handler   grpc.StreamHandler
		stop      bool
		wantCode  codes.Code
		wantLevel string
		wantAttrs []string
	}{
		{
			name: "ok stream logged once when it ends",
			handler: func(srv any, ss grpc.ServerStream) error {
				return ss.RecvMsg(&runtimeapi.ListContainersRequest{})
			},
			wantCode: codes.OK, wantLevel: "DEBUG", wantAttrs: []string{"method=StreamContainers", "code=OK", "request_id="},
		},
		{
			name:     "panic becomes internal",
			handler:  func(srv any, ss grpc.ServerStream) error { panic("bad stream") },
			wantCode: codes.Internal, wantLevel: "ERROR", wantAttrs: []string{"code=Internal"},
		},
		{
			name: "classified error becomes its code",
			handler: func(srv any, ss grpc.ServerStream) error {
				return fmt.Errorf("stream: %w", errdefs.ErrInvalidArgument)
			},
			wantCode: codes.InvalidArgument, wantLevel: "WARN", wantAttrs: []string{"code=InvalidArgument"},
		},
		{
			name: "shutdown ends the stream's context",
			stop: true,
			handler: func(srv any, ss grpc.ServerStream) error {
				<-ss.Context().Done()
				Logger(ss.Context()).Info("inside")
				return nil
			},
			wantCode: codes.OK, wantLevel: "DEBUG", wantAttrs: []string{"code=OK"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			stop, shutdown := context.WithCancel(context.Background())
			defer shutdown()
			if tc.stop {
				shutdown()
			}
			icpt := StreamInterceptor(stop, log, nil)
			err := icpt(nil, &fakeStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: "/runtime.v1.RuntimeService/StreamContainers"}, tc.handler)
			if got := status.Code(err); got != tc.wantCode {
				t.Errorf("code = %v, want %v", got, tc.wantCode)
			}
			rpcLines := rpcLogLines(buf.String())
			if len(rpcLines) != 1 || !strings.Contains(rpcLines[0], "level="+tc.wantLevel) {
				t.Fatalf("rpc log lines %q, want one at %s", rpcLines, tc.wantLevel)
			}
			for _, a := range tc.wantAttrs {
				if !strings.Contains(rpcLines[0], a) {
					t.Errorf("log line %q lacks %q", rpcLines[0], a)
				}
			}
			if tc.stop && !strings.Contains(buf.String(), "msg=inside method=StreamContainers") {
				t.Errorf("the handler's logger lacks the stream's method:\n%s", buf.String())
			}
		})
	}
}
