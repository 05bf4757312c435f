// Package kubelet runs cria under a real kubelet: a kubelet in standalone
// mode (no API server), with static pods from a manifest directory, driving
// a cria daemon started for the test, all inside the test's namespaces.
//
// The kubelet binary comes from $KUBELET; ./kubeletbuild is the module that
// pins it (make e2e-kubelet builds it into bin/).
package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

// nodeName is the kubelet's node name; static pods are named
// "<manifest name>-<node name>".
const nodeName = "cria-node"

// Kubelet is a kubelet process started for one test.
type Kubelet struct {
	t        *testing.T
	Dir      string // root directory, config, manifests, log
	Manifest string // the static pod directory
	Port     int    // the kubelet API (HTTPS, anonymous, loopback)
	logPath  string
	madeDirs []string // host directories the test created, removed at the end
	cmd      *exec.Cmd
	done     chan struct{}
}

// kubeletConfig is the KubeletConfiguration for a standalone kubelet on
// this machine: cgroup v1 allowed (failCgroupV1: false), the cgroupfs
// driver, no per-QoS cgroups (nothing left in the host's hierarchy), an
// anonymous API on loopback, small log files rotated often, and pod and
// container stats taken from cria (which the kubelet's cadvisor cannot
// name).
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
featureGates:
  PodAndContainerStatsFromCRI: true
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: %[1]s
imageServiceEndpoint: %[1]s
staticPodPath: %[2]s
fileCheckFrequency: 1s
syncFrequency: 5s
address: 127.0.0.1
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
resolvConf: ""
volumePluginDir: %[5]s
containerLogMaxSize: 16Ki
containerLogMaxFiles: 30
containerLogMonitorInterval: 3s
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
`

// StartKubelet starts the kubelet against d. /var/log/pods,
// /var/log/containers and /var/lib/kubelet, which the kubelet uses
// whatever its root directory, are the test's own directories (bind mounts
// in the test's mount namespace).
func StartKubelet(t *testing.T, d *framework.Daemon) *Kubelet {
	t.Helper()
	bin := os.Getenv("KUBELET")
	if bin == "" {
		t.Fatal("$KUBELET must name the kubelet binary; `make e2e-kubelet` builds it into bin/")
	}
	dir, err := os.MkdirTemp("", "cria-kubelet-")
	if err != nil {
		t.Fatal(err)
	}
	k := &Kubelet{t: t, Dir: dir, Manifest: filepath.Join(dir, "manifests"), logPath: filepath.Join(dir, "kubelet.log"), done: make(chan struct{})}
	t.Cleanup(k.cleanup)
	for _, sub := range []string{"manifests", "root", "volume-plugins", "log/pods", "log/containers", "var-lib-kubelet"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, own := range hostDirs(dir) {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			k.madeDirs = append(k.madeDirs, p) // removed again in cleanup
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount(own, p, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("binding the test's %s: %v", p, err)
		}
	}
	k.Port = freePort(t)
	cfg := fmt.Sprintf(kubeletConfig, d.Endpoint(), k.Manifest, k.Port, freePort(t), filepath.Join(dir, "volume-plugins"))
	cfgPath := filepath.Join(dir, "kubelet.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(k.logPath)
	if err != nil {
		t.Fatal(err)
	}
	k.cmd = exec.Command(bin, "--config", cfgPath, "--root-dir", filepath.Join(dir, "root"), "--cert-dir", filepath.Join(dir, "root", "pki"),
		"--hostname-override", nodeName, "--v", "2")
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting the kubelet: %v", err)
	}
	go func() {
		_ = k.cmd.Wait()
		logf.Close()
		close(k.done)
	}()
	return k
}

// hostDirs maps the host paths the kubelet writes to whatever its flags
// say (the pod logs, their /var/log/containers links, the device-plugin
// socket directory) to the test's own directories, bound over them in the
// test's mount namespace.
func hostDirs(dir string) map[string]string {
	return map[string]string{
		"/var/log/pods":       filepath.Join(dir, "log", "pods"),
		"/var/log/containers": filepath.Join(dir, "log", "containers"),
		"/var/lib/kubelet":    filepath.Join(dir, "var-lib-kubelet"),
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// AddPod writes a static pod manifest; the kubelet picks it up within its
// file check period.
func (k *Kubelet) AddPod(name, manifest string) {
	k.t.Helper()
	// Written aside and renamed, so the kubelet never reads half a file.
	tmp := filepath.Join(k.Dir, name+".yaml.tmp")
	if err := os.WriteFile(tmp, []byte(manifest), 0o644); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.Manifest, name+".yaml")); err != nil {
		k.t.Fatal(err)
	}
}

// RemovePod deletes a static pod's manifest.
func (k *Kubelet) RemovePod(name string) {
	k.t.Helper()
	if err := os.Remove(filepath.Join(k.Manifest, name+".yaml")); err != nil {
		k.t.Fatal(err)
	}
}

// Exited tells whether the kubelet process has ended.
func (k *Kubelet) Exited() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

// Log returns the kubelet's output so far.
func (k *Kubelet) Log() string {
	b, _ := os.ReadFile(k.logPath)
	return string(b)
}

// Get fetches path from the kubelet's API (HTTPS with a self-signed
// certificate, on loopback).
func (k *Kubelet) Get(path string) (int, string, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the kubelet's own self-signed certificate
	}}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d%s", k.Port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, string(b), err
}

// cleanup stops the kubelet by PID, releases its mounts and directory,
// and prints its log if the test failed.
func (k *Kubelet) cleanup() {
	if k.cmd != nil && k.cmd.Process != nil && !k.Exited() {
		_ = k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(15 * time.Second):
			_ = k.cmd.Process.Kill()
			<-k.done
		}
	}
	if k.t.Failed() {
		k.t.Logf("kubelet log (%s), last lines:\n%s", k.logPath, framework.LastLines(k.Log(), 150))
	}
	for p := range hostDirs(k.Dir) {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
	for _, p := range k.madeDirs {
		_ = os.Remove(p) // only if empty: nothing of anyone else's goes
	}
	if err := framework.UnmountAll(k.Dir); err != nil {
		k.t.Errorf("releasing the kubelet's mounts: %v", err)
	}
	if err := os.RemoveAll(k.Dir); err != nil {
		k.t.Errorf("removing the kubelet's directory: %v", err)
	}
}

// eventually polls f every 200 ms until it returns nil or timeout passes,
// and returns f's last error.
func eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// podView is what cria holds for one static pod, found by the labels the
// kubelet puts on it.
type podView struct {
	sandbox    *runtimeapi.PodSandbox
	containers []*runtimeapi.Container
}

// view lists cria's sandboxes and containers of the static pod name
// (without the node suffix), newest sandbox first.
func view(ctx context.Context, d *framework.Daemon, name string) (*podView, error) {
	podName := name + "-" + nodeName
	pods, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{"io.kubernetes.pod.name": podName},
	}})
	if err != nil {
		return nil, err
	}
	v := &podView{}
	for _, p := range pods.Items {
		if v.sandbox == nil || p.CreatedAt > v.sandbox.CreatedAt {
			v.sandbox = p
		}
	}
	if v.sandbox == nil {
		return v, nil
	}
	ctrs, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: v.sandbox.Id}})
	if err != nil {
		return nil, err
	}
	v.containers = ctrs.Containers
	return v, nil
}

// container returns the newest attempt of the named container.
func (v *podView) container(name string) *runtimeapi.Container {
	var out *runtimeapi.Container
	for _, c := range v.containers {
		if c.Metadata.Name == name && (out == nil || c.Metadata.Attempt > out.Metadata.Attempt) {
			out = c
		}
	}
	return out
}

// startWatch records, every 100 ms until stop is called, the first time
// each attempt of a container is seen running, by container name and
// attempt.
type startWatch struct {
	mu      sync.Mutex
	started map[string]map[uint32]time.Time
	stop    func()
}

func watchStarts(d *framework.Daemon, pod string) *startWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &startWatch{started: map[string]map[uint32]time.Time{}}
	done := make(chan struct{})
	w.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if v, err := view(ctx, d, pod); err == nil {
				w.mu.Lock()
				for _, c := range v.containers {
					if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING && c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
						continue
					}
					st, err := d.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
					if err != nil || st.Status.StartedAt == 0 {
						continue
					}
					byAttempt := w.started[c.Metadata.Name]
					if byAttempt == nil {
						byAttempt = map[uint32]time.Time{}
						w.started[c.Metadata.Name] = byAttempt
					}
					if _, ok := byAttempt[c.Metadata.Attempt]; !ok {
						byAttempt[c.Metadata.Attempt] = time.Unix(0, st.Status.StartedAt)
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

// starts returns the start times of attempts 0, 1, … of a container, as
// far as they are contiguous.
func (w *startWatch) starts(container string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for a := uint32(0); ; a++ {
		t, ok := w.started[container][a]
		if !ok {
			return out
		}
		out = append(out, t)
	}
}

// waitStarts waits up to timeout for a container's first n starts and
// returns their times.
func (w *startWatch) waitStarts(container string, n int, timeout time.Duration) ([]time.Time, error) {
	var s []time.Time
	err := eventually(timeout, func() error {
		if s = w.starts(container); len(s) < n {
			return fmt.Errorf("the container started %d times", len(s))
		}
		return nil
	})
	return s, err
}
