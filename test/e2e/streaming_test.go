package e2e

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestStreamingExec(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}
	})
	e.start(t, id)

	// Both transports crictl speaks: SPDY (as the kubelet does) and
	// websocket, where crictl (client-go) offers only v5.channel.k8s.io, and
	// its end of stdin is a CLOSE message on the stdin channel.
	for _, transport := range []string{"spdy", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			crictlExec := func(args ...string) *exec.Cmd {
				return e.d.CrictlCommand(ctxT(t), t, append([]string{"exec", "--transport", transport}, args...)...)
			}
			// stdin round-trips, and its end reaches the command.
			cmd := crictlExec("-i", id, "sh", "-c", "read line; echo got:$line; cat >/dev/null; echo stdin-closed")
			cmd.Stdin = strings.NewReader("hello\n")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "got:hello") || !strings.Contains(string(out), "stdin-closed") {
				t.Errorf("crictl exec -i: %v\n%s", err, out)
			}
			// Without a tty, the exec ends when the command does, though
			// the client's stdin stays open (kubectl exec -i pod -- true).
			cmd = crictlExec("-i", id, "true")
			held, holder, _ := os.Pipe()
			cmd.Stdin = held
			done := make(chan error, 1)
			go func() { done <- cmd.Run() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("crictl exec -i true: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("crictl exec -i true still waits for its stdin after the command exited")
				cmd.Process.Kill()
				<-done
			}
			holder.Close()
			held.Close()
			// stdout and stderr both arrive.
			out, err = crictlExec(id, "sh", "-c", "echo to-out; echo to-err >&2").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "to-out") || !strings.Contains(string(out), "to-err") {
				t.Errorf("crictl exec: %v\n%s", err, out)
			}
			// An exit code makes it through the stream.
			cmd = crictlExec(id, "sh", "-c", "exit 3")
			if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() == 0 {
				t.Errorf("crictl exec of exit 3: %v (exit %d), want a failure", err, cmd.ProcessState.ExitCode())
			}
			// With a terminal (script gives crictl one), the command sees a
			// tty of the client's size. (script runs its command through a
			// shell: every argument is one word.)
			ttyCmd := crictlExec("-it", id, "sh", "-c", "tty; stty size")
			script := exec.Command("script", "-qec", "stty cols 91 rows 37; "+strings.Join(ttyCmd.Args, " "), "/dev/null")
			script.Stdin = strings.NewReader("")
			out, err = script.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "37 91") {
				t.Errorf("crictl exec -it: %v\n%q, want a pts of 37 rows and 91 columns", err, out)
			}
		})
	}

	// The RPC itself checks its request.
	for _, tc := range []struct {
		name string
		req  *runtimeapi.ExecRequest
		code codes.Code
	}{
		{"no command", &runtimeapi.ExecRequest{ContainerId: id, Stdout: true}, codes.InvalidArgument},
		{"no stream", &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}}, codes.InvalidArgument},
		{"tty with stderr", &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Tty: true, Stdout: true, Stderr: true}, codes.InvalidArgument},
		{"unknown container", &runtimeapi.ExecRequest{ContainerId: strings.Repeat("a", 64), Cmd: []string{"true"}, Stdout: true}, codes.NotFound},
	} {
		if _, err := e.d.Runtime.Exec(ctxT(t), tc.req); status.Code(err) != tc.code {
			t.Errorf("Exec %s: %v, want %v", tc.name, err, tc.code)
		}
	}
	resp, err := e.d.Runtime.Exec(ctxT(t), &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Stdout: true})
	if err != nil || !strings.HasPrefix(resp.Url, "http://127.0.0.1:") || strings.Contains(resp.Url, ":0/") {
		t.Errorf("Exec URL = %q (%v), want one on loopback with the real port", resp.GetUrl(), err)
	}
	// A URL serves one stream: its first use (here a plain GET, which is no
	// upgrade) spends it, and the next finds nothing. So does a made-up one.
	for i, u := range []string{resp.GetUrl(), resp.GetUrl(), strings.TrimSuffix(resp.GetUrl(), path.Base(resp.GetUrl())) + "made-up"} {
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if notFound := r.StatusCode == http.StatusNotFound; notFound != (i > 0) {
			t.Errorf("GET %d of %s: %s", i+1, u, r.Status)
		}
	}
}

func TestStreamingPortForward(t *testing.T) {
	e := newContainerEnv(t)
	_, info := podStatus(t, e.d, e.pod)
	// A server only on the pod's own loopback.
	listenIn(t, nsPath(info, "network"), "127.0.0.1:8080")
	// SPDY, and SPDY tunnelled through a websocket
	// (SPDY/3.1+portforward.k8s.io), which crictl --transport websocket
	// speaks.
	for i, transport := range []string{"spdy", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			local := strconv.Itoa(18082 + i)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pf := e.d.CrictlCommand(ctx, t, "port-forward", "--transport", transport, e.pod, local+":8080")
			stdout, _ := pf.StdoutPipe()
			if err := pf.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); _ = pf.Wait() }()
			// crictl says "Forwarding from 127.0.0.1:18082 -> 8080" when ready.
			ready := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.Contains(sc.Text(), "Forwarding from") {
						close(ready)
						for sc.Scan() {
						}
						return
					}
				}
			}()
			select {
			case <-ready:
			case <-time.After(15 * time.Second):
				t.Fatal("crictl port-forward never became ready")
			}
			// Two connections in turn: each is a stream pair of one session.
			for range 2 {
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+local, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if err != nil || !strings.Contains(line, "hello from 127.0.0.1:8080") {
					t.Errorf("through the port-forward: %q, %v; want the pod-local server's greeting", line, err)
				}
			}
		})
	}
}
