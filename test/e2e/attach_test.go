package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestAttach(t *testing.T) {
	e := newContainerEnv(t)
	attach := func(id, input string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := e.d.CrictlCommand(ctx, t, append([]string{"attach"}, append(args, id)...)...)
		if input != "" {
			cmd.Stdin = strings.NewReader(input)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("crictl attach %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	echo := func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "while read l; do echo got:$l; done; echo stdin-closed"}
		c.Stdin, c.StdinOnce = true, true
	}

	// Over SPDY, and over websocket v5, whose CLOSE message ends stdin.
	for _, transport := range []string{"spdy", "websocket"} {
		t.Run("stdin round trip over "+transport, func(t *testing.T) {
			id := e.create(t, echo)
			e.start(t, id)
			out := attach(id, "hello\nworld\n", "-i", "--transport", transport)
			if !strings.Contains(out, "got:hello") || !strings.Contains(out, "got:world") || !strings.Contains(out, "stdin-closed") {
				t.Errorf("attach -i output %q", out)
			}
			if st := e.waitExited(t, id); st.ExitCode != 0 {
				t.Errorf("container exit %d after its stdin closed", st.ExitCode)
			}
		})
	}
	t.Run("output written after attach", func(t *testing.T) {
		id := e.create(t, func(c *runtimeapi.ContainerConfig) {
			c.Command = []string{"sh", "-c", "sleep 1; echo late-output; echo late-err >&2; sleep 0.5"}
		})
		e.start(t, id)
		out := attach(id, "")
		if !strings.Contains(out, "late-output") || !strings.Contains(out, "late-err") {
			t.Errorf("attach output %q, want what the container wrote after the attach", out)
		}
	})
	t.Run("after a daemon restart", func(t *testing.T) {
		id := e.create(t, echo)
		e.start(t, id)
		e.d.Kill()
		e.d.Start()
		if out := attach(id, "again\n", "-i"); !strings.Contains(out, "got:again") {
			t.Errorf("attach after restart: %q", out)
		}
	})
	t.Run("request checks", func(t *testing.T) {
		id := e.create(t, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sleep", "3600"} })
		e.start(t, id)
		_, err := e.d.Runtime.Attach(ctxT(t), &runtimeapi.AttachRequest{ContainerId: id, Stdin: true, Stdout: true})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("stdin on a container without stdin: %v, want FailedPrecondition", err)
		}
		_, err = e.d.Runtime.Attach(ctxT(t), &runtimeapi.AttachRequest{ContainerId: id, Tty: true, Stdout: true})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("tty mismatch: %v, want InvalidArgument", err)
		}
		resp, err := e.d.Runtime.Attach(ctxT(t), &runtimeapi.AttachRequest{ContainerId: id, Stdout: true})
		if err != nil || !strings.Contains(resp.Url, "/attach/") {
			t.Errorf("Attach = %v, %v", resp, err)
		}
	})
}
