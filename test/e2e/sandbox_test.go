package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/test/framework"
)

var podCounter atomic.Int32

// podConfig returns a unique pod config; edit changes it.
func podConfig(edit ...func(*runtimeapi.PodSandboxConfig)) *runtimeapi.PodSandboxConfig {
	n := podCounter.Add(1)
	c := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("pod-%d", n), Namespace: "e2e", Uid: fmt.Sprintf("uid-%d", n)},
		Hostname: fmt.Sprintf("pod-%d", n),
		Labels:   map[string]string{"app": "e2e", "n": fmt.Sprint(n)},
		// The kubelet's default; tests that share PIDs ask for POD.
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
	for _, e := range edit {
		e(c)
	}
	return c
}

func runPod(t *testing.T, d *framework.Daemon, c *runtimeapi.PodSandboxConfig) string {
	t.Helper()
	resp, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: c})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	return resp.PodSandboxId
}

func podStatus(t *testing.T, d *framework.Daemon, id string) (*runtimeapi.PodSandboxStatus, map[string]any) {
	t.Helper()
	resp, err := d.Runtime.PodSandboxStatus(ctxT(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		t.Fatalf("PodSandboxStatus(%s): %v", id, err)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatalf("verbose info %q: %v", resp.Info["info"], err)
	}
	return resp.Status, info
}

func removePod(t *testing.T, d *framework.Daemon, id string) {
	t.Helper()
	if _, err := d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("StopPodSandbox(%s): %v", id, err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("RemovePodSandbox(%s): %v", id, err)
	}
}

func nsPath(info map[string]any, kind string) string {
	ns, _ := info["namespaces"].(map[string]any)
	p, _ := ns[kind].(string)
	return p
}

// inPod runs a command in some of the pod's namespaces via nsenter.
func inPod(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("nsenter", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// listenIn opens a TCP listener on addr inside the network namespace at
// path; it answers each connection with its own address.
func listenIn(t *testing.T, path, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	err := network.InNetNS(path, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", c.LocalAddr())
			c.Close()
		}
	}()
	return l
}

// dialFrom connects to addr from the network namespace at path ("" for the
// test's own) and returns the first line it reads.
func dialFrom(path, addr string) (string, error) {
	var line string
	dial := func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		if err == io.EOF {
			err = nil
		}
		return err
	}
	if path == "" {
		return line, dial()
	}
	return line, network.InNetNS(path, dial)
}

func TestPodNetworkAndReachability(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	subnet := netip.MustParsePrefix(d.Network.Subnet)
	a := runPod(t, d, podConfig())
	b := runPod(t, d, podConfig())
	stA, infoA := podStatus(t, d, a)
	stB, infoB := podStatus(t, d, b)
	for _, st := range []*runtimeapi.PodSandboxStatus{stA, stB} {
		ip, err := netip.ParseAddr(st.GetNetwork().GetIp())
		if err != nil || !subnet.Contains(ip) {
			t.Fatalf("pod %s IP %q, want one in %s", st.Id, st.GetNetwork().GetIp(), subnet)
		}
		if st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("pod %s state %v", st.Id, st.State)
		}
	}
	if stA.Network.Ip == stB.Network.Ip {
		t.Fatalf("both pods got %s", stA.Network.Ip)
	}
	if ips := d.Network.AllocatedIPs(); len(ips) != 2 {
		t.Errorf("host-local holds %v, want the two pods' addresses", ips)
	}
	// Inside: lo up and eth0 with the pod's address.
	var ifs []net.Interface
	if err := network.InNetNS(nsPath(infoA, "network"), func() (err error) { ifs, err = net.Interfaces(); return err }); err != nil {
		t.Fatal(err)
	}
	names := map[string]net.Flags{}
	for _, i := range ifs {
		names[i.Name] = i.Flags
	}
	if names["lo"]&net.FlagUp == 0 || names["eth0"]&net.FlagUp == 0 || len(names) != 2 {
		t.Errorf("pod interfaces = %v, want lo and eth0, both up", names)
	}
	// Pod A reaches a server in pod B by B's IP.
	listenIn(t, nsPath(infoB, "network"), ":8080")
	got, err := dialFrom(nsPath(infoA, "network"), net.JoinHostPort(stB.Network.Ip, "8080"))
	if err != nil || !strings.Contains(got, stB.Network.Ip) {
		t.Errorf("pod A → pod B: %q, %v", got, err)
	}
	removePod(t, d, a)
	removePod(t, d, b)
	assertNothingLeft(t, d)
}

func TestPortMapping(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: 18080}}
	}))
	_, info := podStatus(t, d, id)
	listenIn(t, nsPath(info, "network"), ":80")
	// From the test's namespace, which stands for the node, to the node's
	// address on the host port.
	got, err := dialFrom("", net.JoinHostPort(d.Network.Gateway, "18080"))
	if err != nil || !strings.Contains(got, ":80") {
		t.Errorf("node → host port 18080: %q, %v; want the pod's listener on :80", got, err)
	}
	removePod(t, d, id)
	if _, err := dialFrom("", net.JoinHostPort(d.Network.Gateway, "18080")); err == nil {
		t.Errorf("host port 18080 still forwarded after the pod was removed")
	}
	assertNothingLeft(t, d)
}

// assertNothingLeft checks that no pod left anything behind: mounts,
// namespace pins, veths, IP allocations, pause processes or cgroups.
func assertNothingLeft(t *testing.T, d *framework.Daemon) {
	t.Helper()
	resp, err := d.Runtime.ListPodSandbox(ctxT(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(resp.Items) != 0 {
		t.Errorf("sandboxes left: %v (%v)", resp.GetItems(), err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, filepath.Join(d.Config.RunRoot, "sandboxes")) {
			t.Errorf("mount left: %s", l)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(d.Config.RunRoot, "sandboxes")); len(entries) != 0 {
		t.Errorf("sandbox directories left: %v", entries)
	}
	if d.Network != nil {
		if ips := d.Network.AllocatedIPs(); len(ips) != 0 {
			t.Errorf("IP allocations left: %v", ips)
		}
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "veth") {
			t.Errorf("veth left: %s", i.Name)
		}
	}
	// Only this daemon's objects: other test runs on the host may have
	// containers of their own.
	for _, id := range daemonIDs(d) {
		for _, pattern := range []string{"/sys/fs/cgroup/*/cria-" + id, "/sys/fs/cgroup/*/*/cria-" + id, "/sys/fs/cgroup/*/cria-pause-" + id[:12], "/sys/fs/cgroup/*/*/cria-pause-" + id[:12]} {
			if cg, _ := filepath.Glob(pattern); len(cg) != 0 {
				t.Errorf("cgroups left: %v", cg)
			}
		}
	}
}

func TestHostNetworkPod(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
	}))
	st, info := podStatus(t, d, id)
	if st.GetNetwork().GetIp() != "" || nsPath(info, "network") != "" || nsPath(info, "uts") != "" {
		t.Errorf("host-network pod: ip %q, netns %q, utsns %q; want the host's", st.GetNetwork().GetIp(), nsPath(info, "network"), nsPath(info, "uts"))
	}
	if st.GetLinux().GetNamespaces().GetOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		t.Errorf("status namespace options = %v", st.GetLinux().GetNamespaces().GetOptions())
	}
	hostname, _ := os.Hostname()
	files := info["files"].(map[string]any)
	if b, _ := os.ReadFile(files["hostname"].(string)); strings.TrimSpace(string(b)) != hostname {
		t.Errorf("hostname file = %q, want the node's %q", b, hostname)
	}
	removePod(t, d, id)
	assertNothingLeft(t, d)
}

func TestHostnameDNSAndHosts(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Hostname = "web-0"
		c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"e2e.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5"}}
	}))
	st, info := podStatus(t, d, id)
	if got := inPod(t, "--uts="+nsPath(info, "uts"), "hostname"); got != "web-0" {
		t.Errorf("hostname in the pod's UTS namespace = %q, want web-0", got)
	}
	files := info["files"].(map[string]any)
	resolv, _ := os.ReadFile(files["resolvConf"].(string))
	if want := "search e2e.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"; string(resolv) != want {
		t.Errorf("resolv.conf = %q, want %q", resolv, want)
	}
	hosts, _ := os.ReadFile(files["hosts"].(string))
	if !strings.Contains(string(hosts), "127.0.0.1\tlocalhost") || !strings.Contains(string(hosts), st.Network.Ip+"\tweb-0") {
		t.Errorf("hosts = %q, want localhost and %s web-0", hosts, st.Network.Ip)
	}
	// The pod's /dev/shm is a tmpfs of the configured size.
	shm := files["shm"].(string)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !strings.Contains(string(mi), " "+shm+" ") || !strings.Contains(string(mi), "size=65536k") {
		t.Errorf("no 64 MiB tmpfs at %s", shm)
	}
	removePod(t, d, id)
	assertNothingLeft(t, d)
}

func TestSysctls(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "22", "kernel.shmmni": "1234"}
	}))
	_, info := podStatus(t, d, id)
	if got := inPod(t, "--net="+nsPath(info, "network"), "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"); got != "22" {
		t.Errorf("net sysctl in the pod = %q, want 22", got)
	}
	if got := inPod(t, "--ipc="+nsPath(info, "ipc"), "cat", "/proc/sys/kernel/shmmni"); got != "1234" {
		t.Errorf("ipc sysctl in the pod = %q, want 1234", got)
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); strings.TrimSpace(string(b)) == "22" {
		t.Errorf("the pod's sysctl changed the test's own namespace")
	}
	removePod(t, d, id)
	for _, bad := range []map[string]string{{"kernel.hostname": "x"}, {"vm.swappiness": "1"}, {"net/../../kernel/x": "1"}} {
		_, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = bad })})
		if status.Code(err) != codes.InvalidArgument || !contains(status.Convert(err).Message(), "config.linux.sysctls") {
			t.Errorf("sysctls %v: %v, want InvalidArgument naming config.linux.sysctls", bad, err)
		}
	}
	assertNothingLeft(t, d)
}

func TestSandboxLifecycleRules(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	cfg := podConfig()
	id := runPod(t, d, cfg)
	_, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if status.Code(err) != codes.AlreadyExists || !contains(status.Convert(err).Message(), id) {
		t.Errorf("second RunPodSandbox with the same metadata: %v, want AlreadyExists naming %s", err, id)
	}
	for _, tc := range []struct {
		name string
		req  *runtimeapi.RunPodSandboxRequest
		want string
	}{
		{"no config", &runtimeapi.RunPodSandboxRequest{}, "config is required"},
		{"no uid", &runtimeapi.RunPodSandboxRequest{Config: podConfig(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Uid = "" })}, "config.metadata.uid"},
		{"unknown handler", &runtimeapi.RunPodSandboxRequest{Config: podConfig(), RuntimeHandler: "kata"}, "runtime_handler"},
		{"bad cgroup parent", &runtimeapi.RunPodSandboxRequest{Config: podConfig(func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "../../etc" })}, "cgroup_parent"},
	} {
		_, err := d.Runtime.RunPodSandbox(ctxT(t), tc.req)
		if status.Code(err) != codes.InvalidArgument || !contains(status.Convert(err).Message(), tc.want) {
			t.Errorf("%s: %v, want InvalidArgument naming %s", tc.name, err, tc.want)
		}
	}
	// Stop twice, then remove twice; unknown ids succeed too.
	for i := 0; i < 2; i++ {
		if _, err := d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Errorf("StopPodSandbox #%d: %v", i+1, err)
		}
	}
	st, _ := podStatus(t, d, id)
	if st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("state after stop = %v", st.State)
	}
	for i := 0; i < 2; i++ {
		if _, err := d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Errorf("RemovePodSandbox #%d: %v", i+1, err)
		}
	}
	unknown := strings.Repeat("f", 64)
	if _, err := d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: unknown}); err != nil {
		t.Errorf("Stop of an unknown sandbox: %v", err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: unknown}); err != nil {
		t.Errorf("Remove of an unknown sandbox: %v", err)
	}
	if _, err := d.Runtime.PodSandboxStatus(ctxT(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: unknown}); status.Code(err) != codes.NotFound {
		t.Errorf("Status of an unknown sandbox: %v, want NotFound", err)
	}
	// The name is free again; a ready sandbox is removed without a stop.
	id = runPod(t, d, cfg)
	if _, err := d.Runtime.RemovePodSandbox(ctxT(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("Remove of a ready sandbox: %v", err)
	}
	assertNothingLeft(t, d)
}

func TestListPodSandboxFiltersAndStream(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	a := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) { c.Labels["tier"] = "web" }))
	b := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) { c.Labels["tier"] = "db" }))
	if _, err := d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: b}); err != nil {
		t.Fatal(err)
	}
	list := func(f *runtimeapi.PodSandboxFilter) []string {
		resp, err := d.Runtime.ListPodSandbox(ctxT(t), &runtimeapi.ListPodSandboxRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range resp.Items {
			ids = append(ids, it.Id)
		}
		return ids
	}
	for _, tc := range []struct {
		name   string
		filter *runtimeapi.PodSandboxFilter
		want   []string
	}{
		{"all", nil, []string{a, b}},
		{"by id", &runtimeapi.PodSandboxFilter{Id: b}, []string{b}},
		{"by id prefix", &runtimeapi.PodSandboxFilter{Id: a[:12]}, []string{a}},
		{"ready", &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}, []string{a}},
		{"notready", &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}}, []string{b}},
		{"label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"tier": "web"}}, []string{a}},
		{"label mismatch", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"tier": "cache"}}, nil},
	} {
		if got := list(tc.filter); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	stream, err := d.Runtime.StreamPodSandboxes(ctxT(t), &runtimeapi.StreamPodSandboxesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		msg, err := stream.Recv()
		if err != nil {
			break
		}
		n += len(msg.PodSandboxes)
	}
	if n != 2 {
		t.Errorf("StreamPodSandboxes gave %d sandboxes, want 2", n)
	}
	removePod(t, d, a)
	removePod(t, d, b)
	assertNothingLeft(t, d)
}

func TestSharedPIDNamespacePause(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	}))
	_, info := podStatus(t, d, id)
	pid := int(info["pid"].(float64))
	if pid == 0 {
		t.Fatal("no pause process for a shared PID namespace")
	}
	own, _ := os.Readlink("/proc/self/ns/pid")
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil || theirs == own {
		t.Errorf("pause pid namespace %q (%v), want one of its own (not %q)", theirs, err, own)
	}
	if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !strings.Contains(string(cmd), "pause") {
		t.Errorf("pid %d runs %q, want the pause program", pid, cmd)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if !strings.Contains(string(cg), "cria-pause-"+id[:12]) {
		t.Errorf("pause cgroups = %s, want cria-pause-%s", cg, id[:12])
	}
	removePod(t, d, id)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("pause process %d still runs after removal", pid)
	}
	assertNothingLeft(t, d)
}

func TestCNIAddFailureRollsBackAndRetrySucceeds(t *testing.T) {
	// A plugin that fails ADD (after the bridge has made a veth and taken
	// an address) and accepts DEL.
	d := pluginDaemon(t, "failadd", "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"injected failure\"}'; exit 1; fi\nexit 0\n",
		func(d *framework.Daemon) string { return d.Network.Conflist(`{"type": "failadd"}`) })

	cfg := podConfig()
	_, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err == nil || !contains(err.Error(), "injected failure") {
		t.Fatalf("RunPodSandbox with a failing plugin: %v, want the plugin's error", err)
	}
	assertNothingLeft(t, d)
	d.WriteCNIConfig("10-bridge.conflist", d.Network.Conflist())
	id := runPod(t, d, cfg)
	if st, _ := podStatus(t, d, id); st.GetNetwork().GetIp() == "" {
		t.Errorf("retry has no IP")
	}
	removePod(t, d, id)
	assertNothingLeft(t, d)
}

func TestNetworkReadyFollowsCNIConfig(t *testing.T) {
	d := framework.StartDaemon(t)
	ready := func() bool {
		st, err := d.Runtime.Status(ctxT(t), &runtimeapi.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Status.Conditions {
			if c.Type == runtimeapi.NetworkReady {
				return c.Status
			}
		}
		return false
	}
	if ready() {
		t.Fatal("NetworkReady with no CNI config")
	}
	_, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
	if err == nil || !contains(err.Error(), "network not ready") {
		t.Errorf("RunPodSandbox without a network: %v", err)
	}
	framework.WithBridgeNetwork()(d)
	if !ready() {
		t.Fatal("NetworkReady still false after a config was dropped in")
	}
	id := runPod(t, d, podConfig())
	removePod(t, d, id)
	assertNothingLeft(t, d)
}

func TestSandboxesSurviveDaemonKill(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	ready := runPod(t, d, podConfig())
	shared := runPod(t, d, podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	}))
	stopped := runPod(t, d, podConfig())
	if _, err := d.Runtime.StopPodSandbox(ctxT(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: stopped}); err != nil {
		t.Fatal(err)
	}
	before := map[string]*runtimeapi.PodSandboxStatus{}
	var pausePID float64
	for _, id := range []string{ready, shared, stopped} {
		st, info := podStatus(t, d, id)
		before[id] = st
		if id == shared {
			pausePID = info["pid"].(float64)
		}
	}
	for round := 0; round < 3; round++ {
		d.Kill()
		d.Start()
		for id, want := range before {
			got, info := podStatus(t, d, id)
			if got.State != want.State || got.GetNetwork().GetIp() != want.GetNetwork().GetIp() {
				t.Errorf("round %d, pod %s: state %v ip %q; want %v %q", round, id, got.State, got.GetNetwork().GetIp(), want.State, want.GetNetwork().GetIp())
			}
			if id == shared && info["pid"].(float64) != pausePID {
				t.Errorf("round %d: pause pid %v, want %v", round, info["pid"], pausePID)
			}
		}
	}
	for id := range before {
		removePod(t, d, id)
	}
	assertNothingLeft(t, d)
}

func TestLostNamespacesShowNotReady(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig())
	_, info := podStatus(t, d, id)
	d.Kill()
	// As a reboot would: the pins under /run are gone.
	if err := framework.UnmountAll(filepath.Dir(nsPath(info, "network"))); err != nil {
		t.Fatal(err)
	}
	d.Start()
	st, info := podStatus(t, d, id)
	if st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || !contains(fmt.Sprint(info["reason"]), "network namespace") {
		t.Errorf("state %v, reason %v; want NOTREADY naming the lost network namespace", st.State, info["reason"])
	}
	removePod(t, d, id)
	assertNothingLeft(t, d)
}

func TestCrictlPods(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	podJSON := filepath.Join(d.Dir, "pod.json")
	os.WriteFile(podJSON, []byte(`{"metadata": {"name": "crictl-pod", "namespace": "default", "uid": "crictl-uid", "attempt": 1}, "hostname": "crictl-pod", "log_directory": "/tmp", "linux": {}}`), 0o644)
	id := strings.TrimSpace(d.Crictl(t, "runp", podJSON))
	if out := d.Crictl(t, "pods"); !strings.Contains(out, id[:13]) || !strings.Contains(out, "crictl-pod") || !strings.Contains(out, "Ready") {
		t.Errorf("crictl pods:\n%s", out)
	}
	if out := d.Crictl(t, "inspectp", id); !strings.Contains(out, `"state": "SANDBOX_READY"`) || !strings.Contains(out, `"pidMode"`) || !strings.Contains(out, d.Network.Subnet[:8]) {
		t.Errorf("crictl inspectp:\n%s", out)
	}
	d.Crictl(t, "stopp", id)
	if out := d.Crictl(t, "pods"); !strings.Contains(out, "NotReady") {
		t.Errorf("crictl pods after stopp:\n%s", out)
	}
	d.Crictl(t, "rmp", id)
	if out := d.Crictl(t, "pods", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("crictl pods after rmp: %q", out)
	}
	assertNothingLeft(t, d)
}

// slowNetworkDaemon is a daemon whose network ADD takes `delay` after the
// bridge has attached the pod.
func slowNetworkDaemon(t *testing.T, delay string) *framework.Daemon {
	// Passes the previous result on, after a pause, on ADD.
	return pluginDaemon(t, "slowadd", strings.ReplaceAll(slowAddPlugin, "DELAY", delay),
		func(d *framework.Daemon) string { return d.Network.Conflist(`{"type": "slowadd"}`) })
}

// pluginDaemon starts a daemon with a bridge network whose CNI plugins
// include the shell script given, by name, and whose CNI config is
// conflist's.
func pluginDaemon(t *testing.T, name, script string, conflist func(*framework.Daemon) string) *framework.Daemon {
	d := framework.NewDaemon(t, framework.WithBridgeNetwork())
	pluginDir := filepath.Join(d.Dir, "test-plugins")
	os.MkdirAll(pluginDir, 0o755)
	os.WriteFile(filepath.Join(pluginDir, name), []byte(script), 0o755)
	d.Config.Network.CNIPluginDirs = append(d.Config.Network.CNIPluginDirs, pluginDir)
	d.WriteConfig()
	d.WriteCNIConfig("10-bridge.conflist", conflist(d))
	d.Start()
	return d
}

func TestRunPodSandboxInterruptedByCrashIsRolledBack(t *testing.T) {
	d := slowNetworkDaemon(t, "2")
	go func() {
		_, _ = d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(d.Network.AllocatedIPs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the bridge never attached the pod")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill()
	time.Sleep(2500 * time.Millisecond) // let the orphaned plugin finish
	d.Start()
	if !d.WaitForLog("rolled back a sandbox whose creation was interrupted", 5*time.Second) {
		t.Errorf("no rollback logged:\n%s", d.Log())
	}
	assertNothingLeft(t, d)
}

func TestRetryAfterTimeoutGetsTheFinishedSandbox(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause time.Duration
	}{{"retry while the first call works", 0}, {"retry after the first call finished", 2 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) { testRetryAfterTimeout(t, tc.pause) })
	}
}

func testRetryAfterTimeout(t *testing.T, pause time.Duration) {
	d := slowNetworkDaemon(t, "1")
	cfg := podConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("first call: %v, want DeadlineExceeded", err)
	}
	time.Sleep(pause)
	// The retry, as the kubelet makes it, gets the sandbox the first call
	// went on to make, not "name reserved".
	resp, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	list, _ := d.Runtime.ListPodSandbox(ctxT(t), &runtimeapi.ListPodSandboxRequest{})
	if len(list.GetItems()) != 1 || list.Items[0].Id != resp.PodSandboxId {
		t.Errorf("sandboxes = %v, want only the retry's %s", list.GetItems(), resp.PodSandboxId)
	}
	// Once handed over, the name is held again.
	if _, err := d.Runtime.RunPodSandbox(ctxT(t), &runtimeapi.RunPodSandboxRequest{Config: cfg}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("third call: %v, want AlreadyExists", err)
	}
	removePod(t, d, resp.PodSandboxId)
	assertNothingLeft(t, d)
}

// slowAddPlugin is a chained CNI plugin that waits DELAY seconds on ADD and
// passes the previous result on. libcni writes the config with sorted
// keys, so prevResult is followed by the "type" key.
const slowAddPlugin = `#!/bin/sh
if [ "$CNI_COMMAND" = ADD ]; then
	sleep DELAY
	sed -n 's/.*"prevResult":\(.*\),"type":"slowadd"}$/\1/p'
fi
exit 0
`

var idInLog = regexp.MustCompile(`(?:container_id|pod_sandbox_id)=([0-9a-f]{64})`)

// daemonIDs returns the ids of every container and sandbox that d's RPCs
// named.
func daemonIDs(d *framework.Daemon) []string {
	seen := map[string]bool{}
	var ids []string
	for _, m := range idInLog.FindAllStringSubmatch(d.Log(), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			ids = append(ids, m[1])
		}
	}
	return ids
}

// TestUpdatePodSandboxResources: the kubelet's report of a resized pod is
// recorded and shown in verbose status.
func TestUpdatePodSandboxResources(t *testing.T) {
	d := framework.StartDaemon(t, framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig())
	t.Cleanup(func() { removePod(t, d, id) })
	_, err := d.Runtime.UpdatePodSandboxResources(ctxT(t), &runtimeapi.UpdatePodSandboxResourcesRequest{
		PodSandboxId: id,
		Overhead:     &runtimeapi.LinuxContainerResources{CpuShares: 102, MemoryLimitInBytes: 10 << 20},
		Resources:    &runtimeapi.LinuxContainerResources{CpuShares: 512, MemoryLimitInBytes: 256 << 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, info := podStatus(t, d, id)
	overhead, _ := info["overhead"].(map[string]any)
	resources, _ := info["resources"].(map[string]any)
	if overhead["memory_limit_in_bytes"] != float64(10<<20) || resources["cpu_shares"] != float64(512) {
		t.Errorf("verbose status overhead %v, resources %v; want what was sent", overhead, resources)
	}
}
