package cri

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCheckSysctls(t *testing.T) {
	for _, tc := range []struct {
		name           string
		sysctls        map[string]string
		ownNet, ownIPC bool
		wantErr        string
	}{
		{name: "net with own netns", sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, ownNet: true},
		{name: "slash form", sysctls: map[string]string{"net/ipv4/ping_group_range": "0 0"}, ownNet: true},
		{name: "net on host network", sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, ownIPC: true, wantErr: "needs a network namespace"},
		{name: "ipc with own ipc", sysctls: map[string]string{"kernel.shmmax": "1000", "kernel.msgmax": "1", "kernel.sem": "1 2 3 4", "fs.mqueue.msg_max": "9"}, ownIPC: true},
		{name: "ipc on host ipc", sysctls: map[string]string{"kernel.shmmax": "1000"}, ownNet: true, wantErr: "needs an IPC namespace"},
		{name: "not namespaced", sysctls: map[string]string{"kernel.hostname": "x"}, ownNet: true, ownIPC: true, wantErr: "is not namespaced"},
		{name: "vm", sysctls: map[string]string{"vm.swappiness": "1"}, ownNet: true, ownIPC: true, wantErr: "is not namespaced"},
		{name: "traversal", sysctls: map[string]string{"net/../../kernel/x": "1"}, ownNet: true, wantErr: "is not a sysctl name"},
		{name: "empty", sysctls: map[string]string{"": "1"}, wantErr: "is not a sysctl name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSysctls(tc.sysctls, tc.ownNet, tc.ownIPC)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "config.linux.sysctls") {
				t.Errorf("err = %v, want InvalidArgument naming config.linux.sysctls and %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateSandboxConfig(t *testing.T) {
	good := func() *runtimeapi.PodSandboxConfig {
		return &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"},
			Hostname: "p",
		}
	}
	for _, tc := range []struct {
		name    string
		edit    func(c *runtimeapi.PodSandboxConfig)
		wantErr string
	}{
		{name: "good", edit: func(c *runtimeapi.PodSandboxConfig) {}},
		{name: "no metadata", edit: func(c *runtimeapi.PodSandboxConfig) { c.Metadata = nil }, wantErr: "config.metadata is required"},
		{name: "no uid", edit: func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Uid = "" }, wantErr: "config.metadata.uid is required"},
		{name: "slash in name", edit: func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Name = "../x" }, wantErr: "config.metadata.name"},
		{name: "bad hostname", edit: func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "a b" }, wantErr: "config.hostname"},
		{name: "dns server not an ip", edit: func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"8.8.8.8\nnameserver 1.1.1.1"}}
		}, wantErr: "config.dns_config.servers"},
		{name: "dns search injection", edit: func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Searches: []string{"a\noptions ndots:0"}}
		}, wantErr: "config.dns_config.searches"},
		{name: "too many searches", edit: func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Searches: make([]string, 33)}
		}, wantErr: "config.dns_config"},
		{name: "bad port", edit: func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 70000}}
		}, wantErr: "config.port_mappings[0]"},
		{name: "bad host ip", edit: func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 8080, HostIp: "nope"}}
		}, wantErr: "config.port_mappings[0].host_ip"},
		{name: "host network sysctl", edit: func(c *runtimeapi.PodSandboxConfig) {
			c.Linux = &runtimeapi.LinuxPodSandboxConfig{
				Sysctls:         map[string]string{"net.ipv4.ip_forward": "1"},
				SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}},
			}
		}, wantErr: "needs a network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(c)
			err := validateSandboxConfig(c, testNode)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want InvalidArgument containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestResolvConfAndHosts(t *testing.T) {
	host := []byte("nameserver 192.0.2.53\n")
	for _, tc := range []struct {
		name string
		dns  *runtimeapi.DNSConfig
		want string
	}{
		{"no dns config gives the host's", nil, "nameserver 192.0.2.53\n"},
		{"empty dns config gives the host's", &runtimeapi.DNSConfig{}, "nameserver 192.0.2.53\n"},
		{"full", &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10", "fd00::a"}, Searches: []string{"ns.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5", "edns0"}},
			"search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a\noptions ndots:5 edns0\n"},
		{"servers only", &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1"}}, "nameserver 1.1.1.1\n"},
	} {
		if got := string(resolvConf(tc.dns, host)); got != tc.want {
			t.Errorf("%s: resolv.conf = %q, want %q", tc.name, got, tc.want)
		}
	}
	hosts := string(hostsFile("web-0", []string{"10.88.0.5"}))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost", "10.88.0.5\tweb-0\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("hosts %q lacks %q", hosts, want)
		}
	}
	if name := sandboxName(&runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u", Attempt: 2}); name != "p_ns_u_2" {
		t.Errorf("sandboxName = %q", name)
	}
}
