// Package nodee2e runs Kubernetes' node conformance lane (the
// [NodeConformance] specs of k8s.io/kubernetes/test/e2e_node) against cria,
// offline: the suite's own API server and etcd, a kubelet it starts, and a
// cria daemon started for it, all inside the test's network and mount
// namespaces. The images the lane pulls are substitutes in a local
// registry, mirrored under their real names.
//
// make test runs a curated part of the lane, each area at least once; make
// node-e2e runs all of it (NODE_E2E_LANE=full). Either fails on a failure
// that expected-failures.txt does not list, on a listed spec that passes,
// and on a listed spec (within the part that ran) that did not run.
package nodee2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

// The lane, as upstream CI runs it against containerd and CRI-O.
const (
	laneFocus = `\[NodeConformance\]`
	laneSkip  = `\[Flaky\]|\[Slow\]|\[Serial\]|\[Disruptive\]`
)

// The node: its name, its address and default gateway (on a veth pair
// both ends of which are in the test's network namespace, so that no route
// leads out; no host has the gateway's address), the pod CIDR that the
// suite's kubelet config names and the bridge serves.
const (
	nodeName    = "cria-node"
	nodeIP      = "10.200.0.1"
	nodeGateway = "10.200.0.254"
	podCIDR     = "10.100.0.0/24"
)

// curated is the part of the lane make test runs: each area at least
// once (pods, probes, lifecycle hooks, init and sidecar containers, each
// volume type, security context, networking, logs, exec).
var curated = []string{
	// Pods and the container runtime.
	`Pods should be submitted and removed`,
	`Pods should get a host IP`,
	`Container Runtime blackbox test on terminated container should report termination message from file when pod succeeds and TerminationMessagePolicy FallbackToLogsOnError is set`,
	`Container Runtime blackbox test on terminated container should report termination message from log output if TerminationMessagePolicy FallbackToLogsOnError is set`,
	`Kubelet when scheduling a busybox command in a pod should print the output to logs`,
	`Containers should be able to override the image's default command and arguments`,
	`Variable Expansion should allow composing env vars into new env vars`,
	`ConfigMap should be consumable via environment variable`,
	`Downward API should provide pod UID as env vars`,
	`Kubelet when scheduling an agnhost Pod with hostAliases should write entries to /etc/hosts \[`,
	`Sysctls \[LinuxOnly\] should support sysctls \[`,
	`Kubelet PodOverhead handling \[LinuxOnly\] PodOverhead cgroup accounting On running pod with PodOverhead defined Pod cgroup should be sum of overhead and resource limits`,
	// Probes.
	`Probing container should be restarted with a exec "cat /tmp/health" liveness probe`,
	`Probing container with readiness probe should not be ready before initial delay and never restart`,
	`Probing container should mark readiness on pods to false while pod is in progress of terminating when a pod has a readiness probe`,
	// Lifecycle hooks.
	`Container Lifecycle Hook when create a pod with lifecycle hook should execute poststart exec hook properly`,
	`Container Lifecycle Hook when create a pod with lifecycle hook should execute prestop http hook properly`,
	// Init and sidecar containers.
	`InitContainer should invoke init containers on a RestartNever pod`,
	`Containers Lifecycle when using a Pod with restartPolicy=Never, three init container and two restartable init containers should finish and produce log`,
	// Volumes.
	`EmptyDir volumes should support \(root,0644,tmpfs\)`,
	`ConfigMap should be consumable from pods in volume \[`,
	`Secrets should be consumable from pods in volume \[`,
	`Projected configMap should be consumable from pods in volume \[`,
	`Downward API volume should provide podname only`,
	`HostPath should give a volume the correct mode`,
	// Security context.
	`Security Context When creating a pod with privileged should run the container as unprivileged when false`,
	`Security Context when creating containers with AllowPrivilegeEscalation should not allow privilege escalation when false`,
	`Security Context When creating a container with runAsUser should run the container with uid 65534`,
	`Security Context When creating a container with runAsNonRoot should run with an explicit non-root user ID`,
	// Networking.
	`Networking Granular Checks: Pods should function for intra-pod communication: http`,
	`Networking Granular Checks: Pods should function for node-pod communication: http`,
	`Networking Granular Checks: Pods should function for node-pod communication: udp`,
	// Exec, logs, the root filesystem, hostnames.
	`Pods should support remote command execution over websockets`,
	`Pods should support retrieving logs from the container over websockets`,
	`Kubelet when scheduling a read only busybox container should not write to root filesystem`,
	`Hostname of Pod a pod with subdomain field has FQDN, hostname is shortname`,
}

func TestNodeConformance(t *testing.T) {
	lane := os.Getenv("NODE_E2E_LANE")
	focus := laneFocus
	var scope *regexp.Regexp
	switch {
	case os.Getenv("NODE_E2E_FOCUS") != "":
		// A part of the lane chosen by hand, e.g. to chase one failure.
		lane = "focused"
		scope = regexp.MustCompile(os.Getenv("NODE_E2E_FOCUS"))
		focus = scope.String()
	case lane == "full":
	case lane == "" || lane == "curated":
		lane = "curated"
		scope = regexp.MustCompile(strings.Join(curated, "|"))
		focus = scope.String()
	default:
		t.Fatalf("NODE_E2E_LANE=%q: want \"full\" or \"curated\"", lane)
	}
	suite := binary(t, "NODE_E2E_TEST", "e2e_node.test")
	ginkgo := binary(t, "GINKGO", "ginkgo")
	// The suite runs the kubelet that lies beside it.
	if kubelet := binary(t, "KUBELET", "kubelet"); kubelet != filepath.Join(filepath.Dir(suite), "kubelet") {
		t.Fatalf("the suite runs the kubelet beside it; $KUBELET (%s) must be in %s", kubelet, filepath.Dir(suite))
	}
	expected, err := framework.ReadExpectedFailures("expected-failures.txt")
	if err != nil {
		t.Fatal(err)
	}
	if scope != nil {
		for name := range expected {
			if !scope.MatchString(name) || !regexp.MustCompile(laneFocus).MatchString(name) {
				delete(expected, name) // outside the curated part
			}
		}
	}

	node := setUpNode(t)
	leaveTmpAsFound(t)
	reg := framework.StartRegistry(t)
	pushSubstitutes(t, reg)
	d := framework.StartDaemon(t,
		framework.WithRegistriesConf(reg.MirrorConf(mirroredHosts...)),
		framework.WithConfig(func(c *config.Config) {
			// Both anchors configure this alias for the suite's
			// RuntimeClass specs.
			c.RuntimeHandlers = []string{"runc", "test-handler"}
		}),
		withPodNetwork())
	defer d.RemoveAllPods(t)

	dir := reportDir(t)
	work := t.TempDir() // the suite writes its kubeconfig, tokens and static pods here
	kubeletConfig := filepath.Join(work, "kubelet-base.yaml")
	writeFile(t, kubeletConfig, fmt.Sprintf(kubeletConfigTemplate, podCIDR, node.resolvConf))
	kubeletFlags := strings.Join([]string{
		"--fail-cgroupv1=false", "--cgroup-driver=cgroupfs", "--cgroups-per-qos=true",
		"--cgroup-root=/",
		// Stats for the runtime's own cgroup; no host process is moved
		// into a kubelet or system cgroup.
		"--runtime-cgroups=" + cgroupOf(t, d.PID()), "--system-cgroups=", "--kubelet-cgroups=",
		"--node-ip=" + nodeIP, "--cluster-domain=cluster.local",
	}, " ")
	// Upstream runs the lane on 8 Ginkgo processes; most specs wait on
	// the kubelet's sync periods, not on the CPU.
	nodes, timeout := 8, 100*time.Minute
	if lane == "curated" {
		timeout = 14 * time.Minute
	}
	junit := filepath.Join(dir, "junit_node_e2e.xml")
	logPath := filepath.Join(dir, "node-e2e.log")
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ginkgo,
		"--nodes", fmt.Sprint(nodes), "--timeout", timeout.String(), "--no-color", "--poll-progress-after=10m",
		// A spec that fails once and passes its retry counts as passed,
		// as in upstream's node e2e jobs, and is named in the test's log.
		"--flake-attempts=2",
		"--output-dir", dir, "--junit-report", filepath.Base(junit),
		"--focus", focus, "--skip", laneSkip,
		suite, "--",
		"--prepull-images=false",
		// As the README tells operators: the kubelet's cadvisor has no
		// driver for cria, so pod and container stats, and the series of
		// /metrics/cadvisor, come from cria. The suite applies the gate
		// to the kubelet and to its own choice of specs.
		"--feature-gates=PodAndContainerStatsFromCRI=true",
		"--container-runtime-endpoint="+d.Endpoint(),
		"--container-runtime-process-name="+framework.Binary(t),
		"--container-runtime-pid-file=",
		"--node-name="+nodeName,
		"--report-dir="+dir,
		"--dns-domain=cluster.local",
		"--kubelet-config-file="+kubeletConfig,
		"--kubelet-flags="+kubeletFlags,
		"--v=2",
	)
	cmd.Dir = work
	// The API server's key and other temporary files stay in the test's
	// directory.
	cmd.Env = append(os.Environ(), "TMPDIR="+work)
	// Its own process group: whatever it leaves running is ended by
	// group, and only it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	elapsed, runErr := framework.RunLogged(t, cmd, logPath)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the kubelet, if the suite left it

	ran := ranLine(logPath)
	specs, err := framework.ReadJUnit(junit)
	if err != nil {
		t.Fatalf("the suite (%v) left no report: %v; its output is in %s:\n%s", runErr, err, logPath, framework.LastLines(readFile(logPath), 60))
	}
	sum := framework.Summarise(specs, expected)
	t.Logf("node e2e, %s lane: %d passed, %d failed, %d skipped in %s; %s (report %s, log %s)",
		lane, len(sum.Passed), len(sum.Failed), len(sum.Skipped), elapsed, ran, junit, logPath)
	for _, name := range sum.Failed {
		if reason, ok := expected[name]; ok {
			t.Logf("failed as expected: %s (%s)", name, reason)
		}
	}
	for _, sp := range specs {
		if sp.Flaked() {
			t.Logf("flaked (failed an attempt, passed its retry): %s\n%s", sp.Name, attemptFailure(sp.SystemErr))
		}
	}
	sum.Check(t, specs, "expected-failures.txt")
	if lane == "curated" && len(sum.Passed) < len(curated) {
		t.Errorf("only %d specs passed, fewer than the %d patterns of the curated part: a pattern matches nothing (renamed?)", len(sum.Passed), len(curated))
	}
	if runErr != nil && len(sum.Failed) == 0 {
		t.Errorf("the suite failed (%v) with no failing spec; see %s:\n%s", runErr, logPath, framework.LastLines(readFile(logPath), 60))
	}
	if t.Failed() {
		t.Logf("daemon log, last lines:\n%s", framework.LastLines(d.Log(), 100))
	}
}

// kubeletConfigTemplate is the suite's default kubelet configuration
// (test/e2e_node/jenkins/default-kubelet-config.yaml) for this machine:
// cgroup v1 allowed, eviction thresholds that a shared disk does not
// trip, and a resolv.conf of the test's.
const kubeletConfigTemplate = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
podCIDR: %q
resolvConf: %q
volumeStatsAggPeriod: 10s
fileCheckFrequency: 10s
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionPressureTransitionPeriod: 30s
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
`

// node is what setUpNode made of the test's namespaces.
type node struct {
	resolvConf string
}

// podsCgroup is the cgroup the kubelet puts pods under with cgroup root
// "/", which the lane's cgroup specs assume.
const podsCgroup = "/kubepods"

// setUpNode gives the test's network namespace the node's interface and
// address, and its mount namespace the kubelet's fixed directories and no
// systemd-run (systemd is not the init here; the suite would start the
// kubelet through it).
func setUpNode(t *testing.T) *node {
	t.Helper()
	// The API server advertises the address of the default route's
	// interface. That is a veth whose peer stays in this namespace too,
	// with nothing behind it: no packet can leave.
	for _, args := range [][]string{
		{"link", "add", "node0", "type", "veth", "peer", "name", "node0-peer"},
		{"addr", "add", nodeIP + "/24", "dev", "node0"},
		{"link", "set", "node0", "up"},
		{"link", "set", "node0-peer", "up"},
		{"route", "add", "default", "via", nodeGateway, "dev", "node0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	dir := t.TempDir()
	n := &node{resolvConf: filepath.Join(dir, "resolv.conf")}
	// No name server answers in the namespace; lookups fail at once.
	writeFile(t, n.resolvConf, "nameserver "+nodeIP+"\n")
	for _, p := range []string{"/var/lib/kubelet", "/var/log/pods", "/var/log/containers"} {
		own := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "-"))
		bindOver(t, own, p)
	}
	if sr, err := exec.LookPath("systemd-run"); err == nil {
		empty := filepath.Join(dir, "no-systemd-run")
		writeFile(t, empty, "")
		if err := unix.Mount(empty, sr, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("hiding %s: %v", sr, err)
		}
		t.Cleanup(func() { _ = unix.Unmount(sr, unix.MNT_DETACH) })
	}
	claimCgroup(t, podsCgroup)
	return n
}

// bindOver binds the test's directory own over the host path p in the
// test's mount namespace; a host directory it had to create is removed
// again if it is empty.
func bindOver(t *testing.T, own, p string) {
	t.Helper()
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); os.IsNotExist(err) {
		t.Cleanup(func() { _ = os.Remove(p) })
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(own, p, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("binding the test's %s: %v", p, err)
	}
	t.Cleanup(func() {
		if err := framework.UnmountAll(own); err != nil {
			t.Errorf("releasing mounts under %s: %v", p, err)
		}
		_ = unix.Unmount(p, unix.MNT_DETACH)
	})
}

// claimCgroup makes sure the cgroup name exists in no hierarchy (else
// another kubelet runs here, and the test stops), and, at the end, removes
// it and everything below it that the kubelet and cria made.
func claimCgroup(t *testing.T, name string) {
	t.Helper()
	dirs := []string{"/sys/fs/cgroup" + name}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil { // v1
		dirs = nil
		mounts, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
		for _, m := range mounts {
			dirs = append(dirs, filepath.Dir(m)+name)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Fatalf("%s exists: a kubelet already runs on this machine, and the suite's kubelet would share its pods' cgroups", d)
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			if err := removeCgroupTree(d, 30*time.Second); err != nil {
				t.Errorf("removing the kubelet's cgroups: %v", err)
			}
		}
	})
}

// removeCgroupTree removes a cgroup directory and its descendants, deepest
// first, waiting up to timeout for each to empty.
func removeCgroupTree(root string, timeout time.Duration) error {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	deadline := time.Now().Add(timeout)
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := unix.Rmdir(dirs[i])
			if err == nil || err == unix.ENOENT {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("rmdir %s: %w", dirs[i], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// withPodNetwork gives the daemon a bridge on the suite's pod CIDR.
func withPodNetwork() framework.DaemonOption {
	return func(d *framework.Daemon) {
		d.WriteCNIConfig("10-bridge.conflist", fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "nodee2e", "plugins": [
	{"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
	 "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}},
	{"type": "portmap", "capabilities": {"portMappings": true}}]}`, podCIDR, filepath.Join(d.Dir, "cni-ipam")))
	}
}

// cgroupOf returns the cgroup of pid in the memory hierarchy (cgroup v1)
// or the unified one.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unified := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return parts[2]
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
	}
	if unified == "" {
		t.Fatalf("no cgroup found for pid %d", pid)
	}
	return unified
}

// ranLine returns the suite's "Ran N of M Specs" line.
func ranLine(logPath string) string {
	m := regexp.MustCompile(`Ran \d+ of \d+ Specs`).FindString(readFile(logPath))
	if m == "" {
		return "no \"Ran N of M Specs\" line"
	}
	return m
}

func binary(t *testing.T, env, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("$%s must name the %s binary; `make tools` builds it into bin/", env, what)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// reportDir is where the report and the suite's output are kept:
// $NODE_E2E_REPORT_DIR, or a temporary directory.
func reportDir(t *testing.T) string {
	if d := os.Getenv("NODE_E2E_REPORT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// leaveTmpAsFound removes, at the end of the test, what the suite's specs
// put in the host's /tmp: a hostPath spec's /tmp/sub-path and the device
// plugin specs' socket files. Only names that did not exist before go.
func leaveTmpAsFound(t *testing.T) {
	before := map[string]bool{}
	entries, _ := os.ReadDir("/tmp")
	for _, e := range entries {
		before[e.Name()] = true
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir("/tmp")
		for _, e := range entries {
			if n := e.Name(); !before[n] && (n == "sub-path" || strings.HasPrefix(n, "device-plugin-failures-")) {
				if err := os.RemoveAll(filepath.Join("/tmp", n)); err != nil {
					t.Errorf("removing what the suite left in /tmp: %v", err)
				}
			}
		}
	})
}

// attemptFailure returns what went wrong in a spec's first failed attempt:
// the failure the timeline records for it, cut to a few hundred bytes.
func attemptFailure(timeline string) string {
	_, after, ok := strings.Cut(timeline, "[FAILED]")
	if !ok {
		return ""
	}
	return "[FAILED]" + after[:min(len(after), 400)]
}

func TestAttemptFailure(t *testing.T) {
	for _, tc := range []struct{ timeline, want string }{
		{"STEP: x\n[FAILED] Failure recorded during attempt 1:\nexpected 0 restarts, found 1\n  Attempt #1 Failed.  Retrying", "[FAILED] Failure recorded during attempt 1:\nexpected 0 restarts, found 1\n  Attempt #1 Failed.  Retrying"},
		{"STEP: x\n" + "[FAILED]" + strings.Repeat("y", 1000), "[FAILED]" + strings.Repeat("y", 400)},
		{"passed at once", ""},
	} {
		if got := attemptFailure(tc.timeline); got != tc.want {
			t.Errorf("attemptFailure(%.30q…) = %q, want %q", tc.timeline, got, tc.want)
		}
	}
}
