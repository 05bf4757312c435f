package e2e

import (
	"bufio"
	"context"
	"net"
	"os/exec"
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

	// stdin round-trips through a streaming exec.
	cmd := e.d.CrictlCommand(ctxT(t), t, "exec", "-i", id, "sh", "-c", "read line; echo got:$line")
	cmd.Stdin = strings.NewReader("hello\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "got:hello") {
		t.Errorf("crictl exec -i: %v\n%s", err, out)
	}
	// An exit code makes it through the stream.
	cmd = e.d.CrictlCommand(ctxT(t), t, "exec", id, "sh", "-c", "exit 3")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() == 0 {
		t.Errorf("crictl exec of exit 3: %v (exit %d), want a failure", err, cmd.ProcessState.ExitCode())
	}
	// With a terminal (script gives crictl one), the command sees a tty.
	// (script runs its command through a shell: every argument is one word.)
	ttyCmd := e.d.CrictlCommand(ctxT(t), t, "exec", "-it", id, "tty")
	script := exec.Command("script", "-qec", strings.Join(ttyCmd.Args, " "), "/dev/null")
	script.Stdin = strings.NewReader("")
	out, err = script.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/dev/pts/") {
		t.Errorf("crictl exec -it: %v\n%q", err, out)
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
}

func TestStreamingPortForward(t *testing.T) {
	e := newContainerEnv(t)
	_, info := podStatus(t, e.d, e.pod)
	// A server only on the pod's own loopback.
	listenIn(t, nsPath(info, "network"), "127.0.0.1:8080")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pf := e.d.CrictlCommand(ctx, t, "port-forward", e.pod, "18082:8080")
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
	c, err := net.DialTimeout("tcp", "127.0.0.1:18082", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "hello from 127.0.0.1:8080") {
		t.Errorf("through the port-forward: %q, %v; want the pod-local server's greeting", line, err)
	}
}
