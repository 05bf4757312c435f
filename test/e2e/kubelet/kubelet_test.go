package kubelet

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

const image = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

// The static pods, each exercising one part of what the kubelet asks of a
// runtime.
var manifests = map[string]string{
	// Two containers, one serving HTTP on the pod's IP.
	"web": `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: server
    image: ` + image + `
    command: ["sh", "-c", "mkdir -p /www && echo hello from cria > /www/index.html && echo serving && exec httpd -f -v -p 80 -h /www"]
  - name: ticker
    image: ` + image + `
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"]
`,
	// Exits 1 at once; restartPolicy Always (the default) restarts it
	// with a growing back-off.
	"crash": `apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  restartPolicy: Always
  containers:
  - name: crasher
    image: ` + image + `
    command: ["sh", "-c", "echo crashing; exit 1"]
`,
	// Healthy for 3 seconds, then its exec liveness probe fails.
	"liveness": `apiVersion: v1
kind: Pod
metadata:
  name: liveness
spec:
  containers:
  - name: app
    image: ` + image + `
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec:
        command: ["cat", "/tmp/healthy"]
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 1
`,
	// An init container leaves a mark in a shared emptyDir that the app
	// prints.
	"init": `apiVersion: v1
kind: Pod
metadata:
  name: init
spec:
  initContainers:
  - name: prepare
    image: ` + image + `
    command: ["sh", "-c", "echo prepared-by-init > /work/mark"]
    volumeMounts:
    - {name: work, mountPath: /work}
  containers:
  - name: app
    image: ` + image + `
    command: ["sh", "-c", "cat /work/mark; sleep 3600"]
    volumeMounts:
    - {name: work, mountPath: /work}
  volumes:
  - name: work
    emptyDir: {}
`,
	// hostUsers: false: the kubelet gives the pod a range of host IDs of
	// its own, and every volume the pod's mappings. Container root writes
	// its emptyDir and its termination message.
	"userns": `apiVersion: v1
kind: Pod
metadata:
  name: userns
spec:
  hostUsers: false
  containers:
  - name: app
    image: ` + image + `
    command: ["sh", "-c", "cat /proc/self/uid_map; id -u; echo written > /work/f && cat /work/f; echo done > /dev/termination-log; sleep 3600"]
    volumeMounts:
    - {name: work, mountPath: /work}
  volumes:
  - name: work
    emptyDir: {}
`,
	// 3000 numbered lines over about a minute: the kubelet rotates its
	// 16 KiB log every few seconds meanwhile.
	"chatty": `apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  containers:
  - name: talker
    image: ` + image + `
    command: ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo line $i; if [ $((i % 10)) -eq 0 ]; then usleep 200000; fi; done; sleep 3600"]
`,
}

const chattyLines = 3000

func TestStaticPodsUnderKubelet(t *testing.T) {
	reg := framework.StartRegistry(t)
	reg.Push(t, "e2e-test-images/busybox:1.29-2", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"sh"}}))
	d := framework.StartDaemon(t, framework.WithBridgeNetwork(), framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io")))
	// Cleanups run last first: the kubelet stops, then what it left in
	// cria goes, then the daemon.
	t.Cleanup(func() { d.RemoveAllPods(t) })
	k := StartKubelet(t, d)

	crashes := watchStarts(d, "crash")
	defer crashes.stop()
	liveness := watchStarts(d, "liveness")
	defer liveness.stop()
	for name, m := range manifests {
		k.AddPod(name, m)
	}

	t.Run("two containers serve and log", func(t *testing.T) { checkWeb(t, d, k) })
	t.Run("stats and metrics come from cria", func(t *testing.T) { checkStats(t, k) })
	t.Run("init container runs first", func(t *testing.T) { checkInit(t, d) })
	t.Run("hostUsers false runs in a user namespace", func(t *testing.T) { checkUserns(t, d) })
	t.Run("liveness probe failure restarts", func(t *testing.T) { checkLiveness(t, liveness) })
	t.Run("crash loop backs off", func(t *testing.T) { checkCrashLoop(t, crashes, k) })
	t.Run("log rotation loses nothing", func(t *testing.T) { checkRotation(t, d, k) })
	t.Run("daemon kill restarts nothing", func(t *testing.T) { checkDaemonKill(t, d, k) })
	t.Run("deleted manifests leave nothing", func(t *testing.T) { checkDeletion(t, d, k) })
	if k.Exited() {
		t.Errorf("the kubelet exited during the test")
	}
}

// checkStats: with PodAndContainerStatsFromCRI (see kubeletConfig) the
// kubelet's summary and its /metrics/cadvisor come from cria's
// ListPodSandboxStats and ListPodSandboxMetrics: the web pod, which has
// served HTTP, has network and process figures, its containers CPU and
// memory, and its series carry the pod's and container's names.
func checkStats(t *testing.T, k *Kubelet) {
	pod := "web-" + nodeName
	type usage struct {
		UsageCoreNanoSeconds *uint64 `json:"usageCoreNanoSeconds"`
		WorkingSetBytes      *uint64 `json:"workingSetBytes"`
	}
	var summary struct {
		Pods []struct {
			PodRef     struct{ Name, Namespace string } `json:"podRef"`
			Containers []struct {
				Name   string `json:"name"`
				CPU    usage  `json:"cpu"`
				Memory usage  `json:"memory"`
			} `json:"containers"`
			Network *struct {
				RxBytes *uint64 `json:"rxBytes"`
				TxBytes *uint64 `json:"txBytes"`
			} `json:"network"`
			ProcessStats *struct {
				ProcessCount *uint64 `json:"process_count"`
			} `json:"process_stats"`
		} `json:"pods"`
	}
	// The kubelet refreshes its figures every few seconds.
	err := eventually(time.Minute, func() error {
		code, out, err := k.Get("/stats/summary")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("/stats/summary = %d, %v: %s", code, err, framework.LastLines(out, 5))
		}
		if err := json.Unmarshal([]byte(out), &summary); err != nil {
			return fmt.Errorf("/stats/summary: %v", err)
		}
		for _, p := range summary.Pods {
			if p.PodRef.Name != pod {
				continue
			}
			if p.Network == nil || p.Network.RxBytes == nil || *p.Network.RxBytes == 0 || p.Network.TxBytes == nil || *p.Network.TxBytes == 0 {
				return fmt.Errorf("pod %s: network %+v, want bytes both ways", pod, p.Network)
			}
			if p.ProcessStats == nil || p.ProcessStats.ProcessCount == nil || *p.ProcessStats.ProcessCount < 2 {
				return fmt.Errorf("pod %s: processes %+v, want two or more", pod, p.ProcessStats)
			}
			names := map[string]bool{}
			for _, c := range p.Containers {
				if c.CPU.UsageCoreNanoSeconds == nil || c.Memory.WorkingSetBytes == nil || *c.Memory.WorkingSetBytes == 0 {
					return fmt.Errorf("pod %s, container %s: cpu %+v memory %+v", pod, c.Name, c.CPU, c.Memory)
				}
				names[c.Name] = true
			}
			if !names["server"] || !names["ticker"] {
				return fmt.Errorf("pod %s: containers %v, want server and ticker", pod, names)
			}
			return nil
		}
		return fmt.Errorf("/stats/summary has no pod %s", pod)
	})
	if err != nil {
		t.Error(err)
	}

	series := map[string]*regexp.Regexp{
		"ticker's CPU":      regexp.MustCompile(`(?m)^container_cpu_usage_seconds_total\{[^}]*\bcontainer="ticker"[^}]*\bpod="` + pod + `"[^}]*\} [0-9.e+-]+`),
		"server's memory":   regexp.MustCompile(`(?m)^container_memory_working_set_bytes\{[^}]*\bcontainer="server"[^}]*\bpod="` + pod + `"[^}]*\} [1-9]`),
		"the pod's network": regexp.MustCompile(`(?m)^container_network_receive_bytes_total\{[^}]*\bpod="` + pod + `"[^}]*\} [1-9]`),
	}
	err = eventually(time.Minute, func() error {
		code, out, err := k.Get("/metrics/cadvisor")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("/metrics/cadvisor = %d, %v", code, err)
		}
		for what, re := range series {
			if !re.MatchString(out) {
				name, _, _ := strings.Cut(strings.TrimPrefix(re.String(), "(?m)^"), `\{`)
				return fmt.Errorf("/metrics/cadvisor has no series for %s (%s); its %s series:\n%s", what, re, name, grepLines(out, name+"{", 5))
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// grepLines returns up to n lines of s that start with prefix.
func grepLines(s, prefix string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// running waits for the named containers of a static pod to run and
// returns the pod's view.
func running(t *testing.T, d *framework.Daemon, pod string, containers ...string) *podView {
	t.Helper()
	var v *podView
	err := eventually(2*time.Minute, func() error {
		var err error
		if v, err = view(ctx(t), d, pod); err != nil {
			return err
		}
		if v.sandbox == nil || v.sandbox.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			return fmt.Errorf("pod %s has no ready sandbox", pod)
		}
		for _, name := range containers {
			if c := v.container(name); c == nil || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				return fmt.Errorf("container %s of pod %s is not running", name, pod)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkWeb(t *testing.T, d *framework.Daemon, k *Kubelet) {
	v := running(t, d, "web", "server", "ticker")
	st, err := d.Runtime.PodSandboxStatus(ctx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: v.sandbox.Id})
	if err != nil {
		t.Fatal(err)
	}
	ip := st.Status.GetNetwork().GetIp()
	if net.ParseIP(ip) == nil || !strings.HasPrefix(ip, strings.TrimSuffix(d.Network.Subnet, "0/24")) {
		t.Fatalf("pod IP %q is not in the bridge's subnet %s", ip, d.Network.Subnet)
	}
	var body string
	err = eventually(30*time.Second, func() error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + net.JoinHostPort(ip, "80") + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET / = %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil || body != "hello from cria\n" {
		t.Fatalf("the pod's server at %s: %q, %v", ip, body, err)
	}

	// The kubelet chose the log paths: /var/log/pods/<ns>_<pod>_<uid>/<container>/<attempt>.log,
	// in the CRI format.
	uid := v.sandbox.Metadata.Uid
	logPath := filepath.Join("/var/log/pods", fmt.Sprintf("default_web-%s_%s", nodeName, uid), "ticker", "0.log")
	criLine := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z stdout F tick \d+$`)
	err = eventually(30*time.Second, func() error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) < 3 {
			return fmt.Errorf("%s has %d lines", logPath, len(lines))
		}
		for _, l := range lines {
			if !criLine.MatchString(l) {
				return fmt.Errorf("%s: line %q is not a CRI log line", logPath, l)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// And the kubelet reads them back through its API.
	err = eventually(30*time.Second, func() error {
		code, out, err := k.Get(fmt.Sprintf("/containerLogs/default/web-%s/ticker", nodeName))
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(out, "tick 1\n") || strings.Contains(out, "stdout F") {
			return fmt.Errorf("/containerLogs = %d %q", code, framework.LastLines(out, 3))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func checkInit(t *testing.T, d *framework.Daemon) {
	v := running(t, d, "init", "app")
	initC := v.container("prepare")
	if initC == nil {
		t.Fatal("the init container is not in cria")
	}
	ist, err := d.Runtime.ContainerStatus(ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: initC.Id})
	if err != nil {
		t.Fatal(err)
	}
	ast, err := d.Runtime.ContainerStatus(ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: v.container("app").Id})
	if err != nil {
		t.Fatal(err)
	}
	if ist.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED || ist.Status.ExitCode != 0 {
		t.Errorf("init container: state %v exit %d", ist.Status.State, ist.Status.ExitCode)
	}
	if ist.Status.FinishedAt > ast.Status.StartedAt || ist.Status.CreatedAt > ast.Status.CreatedAt {
		t.Errorf("init container finished at %d, app created at %d and started at %d", ist.Status.FinishedAt, ast.Status.CreatedAt, ast.Status.StartedAt)
	}
	err = eventually(20*time.Second, func() error {
		b, err := os.ReadFile(ast.Status.LogPath)
		if err != nil || !strings.Contains(string(b), " stdout F prepared-by-init\n") {
			return fmt.Errorf("app log %s = %q, %v", ast.Status.LogPath, b, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// checkUserns: the hostUsers: false pod runs with root mapped to a range
// that the kubelet chose (not the identity), and root writes its volume.
func checkUserns(t *testing.T, d *framework.Daemon) {
	v := running(t, d, "userns", "app")
	st, err := d.Runtime.ContainerStatus(ctx(t), &runtimeapi.ContainerStatusRequest{ContainerId: v.container("app").Id})
	if err != nil {
		t.Fatal(err)
	}
	var out string
	err = eventually(20*time.Second, func() error {
		b, err := os.ReadFile(st.Status.LogPath)
		out = string(b)
		if err != nil || !strings.Contains(out, " stdout F written\n") {
			return fmt.Errorf("log %s = %q, %v", st.Status.LogPath, b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, l := range strings.Split(out, "\n") {
		if _, rec, ok := strings.Cut(l, " stdout F "); ok {
			fields = append(fields, strings.Join(strings.Fields(rec), " "))
		}
	}
	t.Logf("in the hostUsers: false pod: uid_map %q, id -u %q", fields[0], fields[1])
	// uid_map: "0 <host> 65536", not the host's "0 0 4294967295".
	m := strings.Fields(fields[0])
	if len(m) != 3 || m[0] != "0" || m[1] == "0" || m[2] != "65536" || fields[1] != "0" {
		t.Errorf("in the hostUsers: false pod: %q; want root mapped to 65536 host IDs other than the host's root", fields)
	}
}

func checkLiveness(t *testing.T, w *startWatch) {
	s, err := w.waitStarts("app", 2, 90*time.Second)
	if err != nil {
		t.Fatalf("after its liveness probe failed: %v", err)
	}
	// Healthy for 3 s, then one failed probe: the restart comes after that.
	if gap := s[1].Sub(s[0]); gap < 3*time.Second {
		t.Errorf("restarted %s after the first start, before its probe could fail", gap)
	}
}

var backOffRE = regexp.MustCompile(`back-off (\w+) restarting failed container=crasher `)

// checkCrashLoop waits for the crashing container's fourth start. The
// kubelet's back-off must have grown (its log names each delay), and cria
// must not have started the container before the delay ran out.
func checkCrashLoop(t *testing.T, w *startWatch, k *Kubelet) {
	s, err := w.waitStarts("crasher", 4, 3*time.Minute)
	if err != nil {
		t.Fatalf("crash loop: %v", err)
	}
	var gaps []time.Duration
	for i := 1; i < len(s); i++ {
		gaps = append(gaps, s[i].Sub(s[i-1]).Round(100*time.Millisecond))
	}
	var delays []time.Duration
	for _, m := range backOffRE.FindAllStringSubmatch(k.Log(), -1) {
		d, err := time.ParseDuration(m[1])
		if err == nil && (len(delays) == 0 || d != delays[len(delays)-1]) {
			delays = append(delays, d)
		}
	}
	t.Logf("restarts %s apart; the kubelet's back-off delays: %v", gaps, delays)
	if len(delays) < 2 {
		t.Fatalf("the kubelet logged back-off delays %v, want at least two", delays)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Errorf("back-off did not grow: %v", delays)
		}
	}
	// After the first crash the kubelet backs off: no restart came sooner.
	for i, g := range gaps[1:] {
		if g < delays[0]-time.Second {
			t.Errorf("restart %d came %s after the previous start, before the back-off of %s ran out", i+2, g, delays[0])
		}
	}
}

// checkRotation reads every file of the chatty container's log, the live
// one and the rotated ones (the kubelet gzips all but the newest), and
// expects each of its lines exactly once.
func checkRotation(t *testing.T, d *framework.Daemon, k *Kubelet) {
	v := running(t, d, "chatty", "talker")
	dir := filepath.Join("/var/log/pods", fmt.Sprintf("default_chatty-%s_%s", nodeName, v.sandbox.Metadata.Uid), "talker")
	var seen map[int]int
	var files []string
	err := eventually(2*time.Minute, func() error {
		var err error
		seen, files, err = readRotated(dir)
		if err != nil {
			return err
		}
		if seen[chattyLines] == 0 {
			return fmt.Errorf("line %d not written yet (%d files)", chattyLines, len(files))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// About 150 KB in 16 KiB files, checked every 3 s: the kubelet has the
	// chance to rotate nine times. A runtime whose ListContainers stalls
	// behind a slow StopContainer held it to two.
	if len(files) < 5 {
		t.Errorf("log files %v: the kubelet rotated the log fewer than 4 times", files)
	}
	var missing, doubled []int
	for i := 1; i <= chattyLines; i++ {
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			doubled = append(doubled, i)
		}
	}
	if len(missing) > 0 || len(doubled) > 0 {
		t.Errorf("over %d files: lines missing %v, lines twice %v", len(files), missing, doubled)
	}
	if !strings.Contains(d.Log(), "method=ReopenContainerLog") {
		t.Errorf("the kubelet never called ReopenContainerLog")
	}
	var sizes []string
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			sizes = append(sizes, fmt.Sprintf("%s %d B", f, fi.Size()))
		}
	}
	t.Logf("%d lines in %d files: %s", chattyLines, len(files), strings.Join(sizes, ", "))
}

var lineRE = regexp.MustCompile(` stdout F line (\d+)$`)

func readRotated(dir string) (map[int]int, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	seen := map[int]int{}
	var files []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err // rotated away meanwhile; the next poll sees it
		}
		var r io.Reader = f
		if strings.HasSuffix(e.Name(), ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("%s: %w", e.Name(), err)
			}
			r = gz
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := lineRE.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[1])
				seen[n]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		files = append(files, e.Name())
	}
	sort.Strings(files)
	return seen, files, nil
}

// checkDaemonKill kills cria with SIGKILL while pods run and starts it
// again: the kubelet keeps the same sandboxes and containers, restarts
// none, and the pod still serves.
func checkDaemonKill(t *testing.T, d *framework.Daemon, k *Kubelet) {
	before := running(t, d, "web", "server", "ticker")
	ids := map[string]bool{}
	for _, c := range before.containers {
		ids[c.Id] = true
	}
	d.Kill()
	time.Sleep(3 * time.Second) // the kubelet sees the runtime gone
	d.Start()
	// Several kubelet sync periods (5 s) and relists.
	time.Sleep(15 * time.Second)
	after := running(t, d, "web", "server", "ticker")
	if after.sandbox.Id != before.sandbox.Id {
		t.Errorf("the pod's sandbox changed from %s to %s", before.sandbox.Id, after.sandbox.Id)
	}
	for _, c := range after.containers {
		if !ids[c.Id] || c.Metadata.Attempt != 0 || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("after the restart: container %s (%s, attempt %d, %v); before: %v", c.Id, c.Metadata.Name, c.Metadata.Attempt, c.State, ids)
		}
	}
	if len(after.containers) != len(ids) {
		t.Errorf("%d containers after the restart, %d before", len(after.containers), len(ids))
	}
	code, out, err := k.Get(fmt.Sprintf("/containerLogs/default/web-%s/server", nodeName))
	if err != nil || code != http.StatusOK || !strings.Contains(out, "serving") {
		t.Errorf("/containerLogs after the restart: %d %q %v", code, framework.LastLines(out, 3), err)
	}
}

// checkDeletion deletes every manifest: the kubelet stops the pods and,
// at its next garbage collection, removes them; then nothing is left.
func checkDeletion(t *testing.T, d *framework.Daemon, k *Kubelet) {
	for name := range manifests {
		k.RemovePod(name)
	}
	err := eventually(3*time.Minute, func() error {
		pods, err := d.Runtime.ListPodSandbox(ctx(t), &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			return err
		}
		if n := len(pods.Items); n != 0 {
			ready := 0
			for _, p := range pods.Items {
				if p.State == runtimeapi.PodSandboxState_SANDBOX_READY {
					ready++
				}
			}
			return fmt.Errorf("%d pods left (%d ready)", n, ready)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after the manifests were deleted: %v", err)
	}
	ctrs, err := d.Runtime.ListContainers(ctx(t), &runtimeapi.ListContainersRequest{})
	if err != nil || len(ctrs.Containers) != 0 {
		t.Errorf("containers left: %v, %v", ctrs.GetContainers(), err)
	}
	if ips := d.Network.AllocatedIPs(); len(ips) != 0 {
		t.Errorf("IP allocations left: %v", ips)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, d.Dir) && (strings.Contains(l, "/sandboxes/") || strings.Contains(l, "/merged")) {
			t.Errorf("mount left: %s", l)
		}
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "veth") {
			t.Errorf("veth left: %s", i.Name)
		}
	}
	if entries, _ := os.ReadDir("/var/log/pods"); len(entries) != 0 {
		t.Errorf("pod log directories left: %v", entries)
	}
}
