package cri

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor/wire"
	"github.com/cria-runtime/cria/oci/runtime"
)

// execOutputCap bounds each of ExecSync's stdout and stderr, so that the
// reply fits a gRPC message and a flood cannot exhaust the daemon.
const execOutputCap = 4 << 20

// ExecSync runs a command in a running container and returns its output and
// exit code. At the timeout (if any) the command and its children are
// killed and the call fails with DeadlineExceeded at once. Output that
// children hold open after the command exits is read for
// runtime.ExecDrain at most. Output past execOutputCap per stream is
// dropped and a marker says so.
func (s *RuntimeService) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if len(req.GetCmd()) == 0 {
		return nil, invalid("cmd is required")
	}
	if err := checkExec("cmd", req.GetCmd(), nil); err != nil {
		return nil, err
	}
	if req.GetTimeout() < 0 {
		return nil, invalid("timeout %d is negative (0 means none)", req.GetTimeout())
	}
	c, err := s.currentContainer(req.GetContainerId())
	if err != nil {
		return nil, err
	}
	if c.State != store.ContainerRunning {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	proc, err := execProcess(c, req.GetCmd())
	if err != nil {
		return nil, err
	}
	stdout, stderr := &cappedBuffer{limit: execOutputCap}, &cappedBuffer{limit: execOutputCap}
	p, err := s.opts.Runtime.Exec(c.ID, proc, nil, stdout, stderr)
	if err != nil {
		return nil, err
	}
	if req.GetTimeout() > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.GetTimeout())*time.Second)
		defer cancel()
	}
	code, waitErr := waitOrKill(ctx, p)
	if err := ctx.Err(); err != nil && code < 0 {
		if req.GetTimeout() > 0 && err == context.DeadlineExceeded {
			return nil, status.Errorf(codes.DeadlineExceeded, "command %q timed out after %ds and was killed", req.GetCmd(), req.GetTimeout())
		}
		return nil, err
	}
	if waitErr != nil && code < 0 {
		return nil, fmt.Errorf("waiting for exec: %w", waitErr)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: int32(code)}, nil
}

// waitOrKill waits for p, and returns its exit code and any error waiting
// for it. If ctx ends first, it kills p and its children and returns at
// once with ctx's error; the process is reaped in the background.
func waitOrKill(ctx context.Context, p *runtime.Process) (int, error) {
	done := make(chan struct{})
	var code int
	var err error
	go func() { code, err = p.Wait(); close(done) }()
	select {
	case <-done:
		return code, err
	case <-ctx.Done():
		_ = p.Kill()
		return -1, ctx.Err()
	}
}

// execProcess is the container's own process settings with cmd as argv.
func execProcess(c *store.Container, cmd []string) (*specs.Process, error) {
	b, err := readFile(c.Dir, wire.SpecFile)
	if err != nil {
		return nil, fmt.Errorf("reading the container's spec: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, err
	}
	p := *spec.Process
	p.Args = cmd
	p.Terminal = false
	return &p, nil
}

// cappedBuffer keeps the first limit bytes written to it, then a marker.
// It must not embed bytes.Buffer: io.Copy would use the Buffer's ReadFrom
// and bypass the cap.
type cappedBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if room >= len(p) {
		return b.buf.Write(p)
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	b.dropped += len(p) - max(room, 0)
	return len(p), nil
}

// Bytes returns what was kept, with a marker if anything was dropped.
func (b *cappedBuffer) Bytes() []byte {
	if b.dropped == 0 {
		return b.buf.Bytes()
	}
	return append(b.buf.Bytes(), fmt.Sprintf("\n[cria: output truncated: %d bytes dropped after the first %d]\n", b.dropped, b.limit)...)
}
