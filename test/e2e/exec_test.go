package e2e

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestExecSync(t *testing.T) {
	e := newContainerEnv(t)
	id := e.create(t, func(c *runtimeapi.ContainerConfig) {
		c.Command = []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}
		c.Envs = []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hi")}}
	})
	e.start(t, id)
	execSync := func(timeout int64, cmd ...string) (*runtimeapi.ExecSyncResponse, error) {
		return e.d.Runtime.ExecSync(ctxT(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: timeout})
	}

	resp, err := execSync(0, "sh", "-c", "echo $GREETING; echo err >&2; exit 5")
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Stdout) != "hi\n" || string(resp.Stderr) != "err\n" || resp.ExitCode != 5 {
		t.Errorf("ExecSync = stdout %q stderr %q exit %d; want hi, err, 5", resp.Stdout, resp.Stderr, resp.ExitCode)
	}

	// A command killed by a signal reports 128+signal, as a shell would.
	if resp, err := execSync(0, "sh", "-c", "kill -9 $$"); err != nil || resp.ExitCode != 137 {
		t.Errorf("exec killed by SIGKILL: exit %d (%v), want 137", resp.GetExitCode(), err)
	}
	// A command that does not exist fails the call and names the command.
	if _, err := execSync(0, "/no/such/command"); err == nil || !strings.Contains(err.Error(), "/no/such/command") {
		t.Errorf("exec of a missing command: %v, want an error naming it", err)
	}

	start := time.Now()
	_, err = execSync(1, "sh", "-c", "echo started; sleep 30")
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("timed-out exec: %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("timed-out exec returned after %v", el)
	}
	// The command was killed: no sleep 30 is left in the container.
	resp, err = execSync(0, "sh", "-c", "ps -o args | grep -c '^sleep 30' || true")
	if err != nil || strings.TrimSpace(string(resp.Stdout)) != "0" {
		t.Errorf("after the timeout, sleep 30 count = %q (%v), want 0", resp.GetStdout(), err)
	}

	// A child that holds the output pipe does not hold off the timeout,
	// and dies with the command.
	start = time.Now()
	_, err = execSync(2, "sh", "-c", "sleep 30 & echo started; sleep 30")
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("timed-out exec with a child: %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("timed-out exec with a child returned after %v, want about 2s", el)
	}
	time.Sleep(200 * time.Millisecond) // the helper's SIGKILL of the group
	resp, err = execSync(0, "sh", "-c", "ps -o args | grep -c '^sleep 30' || true")
	if err != nil || strings.TrimSpace(string(resp.Stdout)) != "0" {
		t.Errorf("after the timeout, sleep 30 count = %q (%v), want 0: the command's children are killed too", resp.GetStdout(), err)
	}
	// A command that exits while a child it left behind holds stdout
	// returns once its output is drained for a bounded time.
	start = time.Now()
	resp, err = execSync(5, "sh", "-c", "sleep 30 & echo hi")
	if err != nil || string(resp.GetStdout()) != "hi\n" || resp.GetExitCode() != 0 {
		t.Errorf("exec leaving a child behind: %q exit %d (%v), want hi and 0", resp.GetStdout(), resp.GetExitCode(), err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("exec leaving a child behind returned after %v, want about 2s", el)
	}

	// 20 MiB of output: cut with a marker, and the daemon lives on.
	resp, err = execSync(0, "sh", "-c", "head -c 20971520 /dev/zero")
	if err != nil {
		t.Fatalf("20 MiB exec: %v", err)
	}
	if len(resp.Stdout) > 5<<20 || !strings.Contains(string(resp.Stdout), "[cria: output truncated") {
		t.Errorf("20 MiB exec: %d bytes of stdout, want at most 5 MiB with a truncation marker", len(resp.Stdout))
	}
	if _, err := e.d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("daemon after a 20 MiB exec: %v", err)
	}

	if _, err := execSync(0); status.Code(err) != codes.InvalidArgument {
		t.Errorf("exec without a command: %v, want InvalidArgument", err)
	}
	if _, err := e.d.Runtime.StopContainer(ctxT(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := execSync(0, "true"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("exec in a stopped container: %v, want FailedPrecondition", err)
	}
}
