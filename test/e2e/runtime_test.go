package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestVersion(t *testing.T) {
	d := framework.StartDaemon(t)
	v, err := d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if v.RuntimeName != "cria" || v.RuntimeApiVersion != "v1" || v.Version != "0.1.0" || v.RuntimeVersion == "" {
		t.Errorf("Version = %+v, want runtime cria, API v1, version 0.1.0 and a runtime version", v)
	}
	// The image service is served on the same socket.
	if _, err := d.Images.ListImages(ctxT(t), &runtimeapi.ListImagesRequest{}); status.Code(err) == codes.Unavailable {
		t.Errorf("ImageService not reachable on the socket: %v", err)
	}
}

func TestStatus(t *testing.T) {
	d := framework.StartDaemon(t)
	st, err := d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	conds := map[string]*runtimeapi.RuntimeCondition{}
	for _, c := range st.GetStatus().GetConditions() {
		conds[c.Type] = c
	}
	if c := conds[runtimeapi.RuntimeReady]; c == nil || !c.Status {
		t.Errorf("RuntimeReady = %+v, want true", c)
	}
	if c := conds[runtimeapi.NetworkReady]; c == nil || c.Status || c.Reason == "" || c.Message == "" {
		t.Errorf("NetworkReady = %+v, want false with a reason and message", c)
	}
	if len(st.Info) != 0 {
		t.Errorf("non-verbose Status has info %v", st.Info)
	}
	// A pod cannot be networked until a CNI config appears: the node
	// cannot serve it now, the request is not malformed.
	_, err = d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "network not ready") {
		t.Errorf("RunPodSandbox with no CNI config: %v, want FailedPrecondition, network not ready", err)
	}

	st, err = d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(st.Info["config"]), &cfg); err != nil {
		t.Fatalf("verbose info[config] = %q: %v", st.Info["config"], err)
	}
	if cfg["socket"] != d.Config.Socket || cfg["root"] != d.Config.Root {
		t.Errorf("verbose config = %v, want the daemon's effective socket %q and root %q", cfg, d.Config.Socket, d.Config.Root)
	}
	var rt map[string]any
	if err := json.Unmarshal([]byte(st.Info["runtime"]), &rt); err != nil {
		t.Fatalf("verbose info[runtime] = %q: %v", st.Info["runtime"], err)
	}
	if rt["cgroupDriver"] != "cgroupfs" || rt["cgroupHierarchy"] == "" {
		t.Errorf("verbose runtime info = %v", rt)
	}
}

// TestRuntimeHandlers: Status lists the default handler and every
// configured one, a pod may name any of them (and shows it back), and an
// unknown name is refused.
func TestRuntimeHandlers(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork(), framework.WithConfig(func(c *config.Config) {
		c.RuntimeHandlers = []string{"runc", "test-handler"}
	}))
	st, err := d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range st.RuntimeHandlers {
		names = append(names, h.Name)
		if h.Features == nil || !h.Features.RecursiveReadOnlyMounts {
			t.Errorf("handler %q features = %+v, want recursive read-only mounts (kernel 5.12+)", h.Name, h.Features)
		}
	}
	if strings.Join(names, ",") != ",runc,test-handler" {
		t.Errorf("Status lists handlers %q, want \"\", \"runc\", \"test-handler\"", names)
	}
	id := runPodWithHandler(t, d, "test-handler")
	ps, err := d.Runtime.PodSandboxStatus(ctxT(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatal(err)
	}
	if ps.Status.RuntimeHandler != "test-handler" || ps.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("pod status: handler %q state %v, want test-handler, READY", ps.Status.RuntimeHandler, ps.Status.State)
	}
	_, err = d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Metadata.Name = "unknown-handler"
	}), RuntimeHandler: "kata"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "runtime_handler") {
		t.Errorf("RunPodSandbox with handler kata: %v, want InvalidArgument naming runtime_handler", err)
	}
}

func runPodWithHandler(t *testing.T, d *framework.Daemon, handler string) string {
	t.Helper()
	resp, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(), RuntimeHandler: handler})
	if err != nil {
		t.Fatalf("RunPodSandbox with handler %q: %v", handler, err)
	}
	t.Cleanup(func() { removePod(t, d, resp.PodSandboxId) })
	return resp.PodSandboxId
}

func TestRuntimeConfigReportsDriverInUse(t *testing.T) {
	for _, tc := range []struct {
		requested string
		want      runtimeapi.CgroupDriver
	}{
		{"cgroupfs", runtimeapi.CgroupDriver_CGROUPFS},
		// This machine's init is not systemd, so a systemd request falls
		// back; on a systemd host it is honoured. Either way the answer is
		// the driver in use.
		{"systemd", expectedSystemdDriver()},
	} {
		t.Run(tc.requested, func(t *testing.T) {
			d := framework.StartDaemon(t, framework.WithConfig(func(c *config.Config) { c.CgroupDriver = tc.requested }))
			rc, err := d.Runtime.RuntimeConfig(ctxT(t), &runtimeapi.RuntimeConfigRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if got := rc.GetLinux().GetCgroupDriver(); got != tc.want {
				t.Errorf("cgroup driver = %v, want %v", got, tc.want)
			}
			if tc.requested == "systemd" && tc.want == runtimeapi.CgroupDriver_CGROUPFS &&
				!d.WaitForLog("systemd is not the running init", 5*time.Second) {
				t.Errorf("fallback from systemd to cgroupfs not logged:\n%s", d.Log())
			}
		})
	}
}

func TestUpdateRuntimeConfig(t *testing.T) {
	d := framework.StartDaemon(t)
	update := func(cidr string) error {
		_, err := d.Runtime.UpdateRuntimeConfig(ctxT(t), &runtimeapi.UpdateRuntimeConfigRequest{
			RuntimeConfig: &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: cidr}},
		})
		return err
	}
	podCIDRs := func() []any {
		st, err := d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{Verbose: true})
		if err != nil {
			t.Fatal(err)
		}
		var rt map[string]any
		if err := json.Unmarshal([]byte(st.Info["runtime"]), &rt); err != nil {
			t.Fatal(err)
		}
		cidrs, _ := rt["podCIDRs"].([]any)
		return cidrs
	}
	if err := update("10.244.1.0/24,fd00:10:244:1::/64"); err != nil {
		t.Fatal(err)
	}
	if got := podCIDRs(); len(got) != 2 || got[0] != "10.244.1.0/24" || got[1] != "fd00:10:244:1::/64" {
		t.Errorf("pod CIDRs = %v", got)
	}
	err := update("10.244.1.0/33")
	if status.Code(err) != codes.InvalidArgument || !contains(status.Convert(err).Message(), "pod_cidr") {
		t.Errorf("bad CIDR: err = %v, want InvalidArgument naming pod_cidr", err)
	}
	if got := podCIDRs(); len(got) != 2 {
		t.Errorf("a refused update changed the pod CIDRs to %v", got)
	}
	if err := update(""); err != nil {
		t.Fatal(err)
	}
	if got := podCIDRs(); len(got) != 0 {
		t.Errorf("pod CIDRs after clearing = %v", got)
	}
}

// expectedSystemdDriver is the driver cria must report when systemd is
// requested: systemd where it is the running init, cgroupfs elsewhere.
func expectedSystemdDriver() runtimeapi.CgroupDriver {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return runtimeapi.CgroupDriver_SYSTEMD
	}
	return runtimeapi.CgroupDriver_CGROUPFS
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
