package cri

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FuzzValidateSandboxConfig: any pod config decoded from the wire is
// accepted or refused, never a panic.
func FuzzValidateSandboxConfig(f *testing.F) {
	for _, c := range []*runtimeapi.PodSandboxConfig{
		{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "n", Uid: "u"}, Hostname: "h",
			DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10"}, Searches: []string{"svc"}, Options: []string{"ndots:5"}},
			PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 8080}},
			Linux:        &runtimeapi.LinuxPodSandboxConfig{Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, CgroupParent: "/kubepods"}},
		{},
	} {
		b, _ := proto.Marshal(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &runtimeapi.PodSandboxConfig{}
		if proto.Unmarshal(b, c) != nil {
			return
		}
		_ = validateSandboxConfig(c, testNode)
	})
}

// FuzzLogPath: a log path that is accepted lies inside the pod's log
// directory, whatever the two strings hold.
func FuzzLogPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/var/log/pods/ns_p_u", "c/0.log"}, {"/var/log/pods/x", "../../etc/passwd"}, {"/a", "/b"},
		{"/var/log/pods/x/", "./c/../../x/0.log"}, {"relative", "c/0.log"}, {"/", "c"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, dir, rel string) {
		p, err := logPath(dir, rel)
		if err != nil || p == "" {
			return
		}
		if !strings.HasPrefix(p, filepath.Clean(dir)+"/") && !(filepath.Clean(dir) == "/" && strings.HasPrefix(p, "/")) {
			t.Fatalf("logPath(%q, %q) = %q, outside the directory", dir, rel, p)
		}
	})
}

// FuzzParseSignal: any string parses to a signal in 1-64 or is refused.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"SIGTERM", "9", "SIGRTMIN+3", "RTMAXMINUS1", "", "-1", "SIGRTMIN+99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sig, ok := parseSignal(s); ok && s != "" && (sig < 1 || sig > 64) {
			t.Fatalf("parseSignal(%q) = %d, outside 1-64", s, sig)
		}
	})
}
