package cri

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Bounds on what a pod config may carry.
const (
	maxDNSServers  = 8
	maxDNSSearches = 32
	maxDNSOptions  = 32
	maxSysctls     = 128
	maxPortMaps    = 256
	maxHostnameLen = 64
)

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// sandboxName is the key that reserves a pod's name: one live sandbox per
// (name, namespace, uid, attempt), as the kubelet expects.
func sandboxName(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%d", m.GetName(), m.GetNamespace(), m.GetUid(), m.GetAttempt())
}

// validateSandboxConfig checks a RunPodSandbox request without side effects;
// the error names the offending field.
func validateSandboxConfig(c *runtimeapi.PodSandboxConfig, n node) error {
	if c == nil {
		return invalid("config is required")
	}
	m := c.GetMetadata()
	if m == nil {
		return invalid("config.metadata is required")
	}
	for _, f := range []struct{ name, val string }{
		{"config.metadata.name", m.Name}, {"config.metadata.namespace", m.Namespace}, {"config.metadata.uid", m.Uid},
	} {
		if err := checkName(f.name, f.val); err != nil {
			return err
		}
	}
	if h := c.GetHostname(); len(h) > maxHostnameLen || strings.ContainsAny(h, " /") || hasControl(h) {
		return invalid("config.hostname %q must be at most %d characters without spaces, '/' or control characters", h, maxHostnameLen)
	}
	if d := c.GetLogDirectory(); d != "" {
		if err := checkPath("config.log_directory", d); err != nil {
			return err
		}
	}
	if err := validateDNS(c.GetDnsConfig()); err != nil {
		return err
	}
	if n := len(c.GetPortMappings()); n > maxPortMaps {
		return invalid("config.port_mappings has %d entries, at most %d allowed", n, maxPortMaps)
	}
	for i, pm := range c.GetPortMappings() {
		if pm.ContainerPort <= 0 || pm.ContainerPort > 65535 || pm.HostPort < 0 || pm.HostPort > 65535 {
			return invalid("config.port_mappings[%d]: ports must be within 1-65535 (host port 0 means none)", i)
		}
		if _, ok := runtimeapi.Protocol_name[int32(pm.Protocol)]; !ok {
			return invalid("config.port_mappings[%d].protocol %d is unknown (TCP, UDP or SCTP)", i, pm.Protocol)
		}
		if pm.HostIp != "" {
			if _, err := netip.ParseAddr(pm.HostIp); err != nil {
				return invalid("config.port_mappings[%d].host_ip %q is not an IP address", i, pm.HostIp)
			}
		}
	}
	if err := checkKeyValues("config.labels", c.GetLabels()); err != nil {
		return err
	}
	if err := checkKeyValues("config.annotations", c.GetAnnotations()); err != nil {
		return err
	}
	sc := c.GetLinux().GetSecurityContext()
	ns := sc.GetNamespaceOptions()
	const nsField = "config.linux.security_context.namespace_options"
	pod, host, ctr := runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_NODE, runtimeapi.NamespaceMode_CONTAINER
	for _, err := range []error{
		checkNamespaceMode(nsField+".network", ns.GetNetwork(), pod, host),
		checkNamespaceMode(nsField+".ipc", ns.GetIpc(), pod, host),
		checkNamespaceMode(nsField+".pid", ns.GetPid(), pod, ctr, host),
		checkUserns(nsField+".userns_options", ns.GetUsernsOptions()),
		checkIdentity("config.linux.security_context", sc.GetRunAsUser(), "", sc.GetRunAsGroup()),
		checkGroups("config.linux.security_context.supplemental_groups", sc.GetSupplementalGroups()),
		checkProfile("config.linux.security_context.seccomp", sc.GetSeccomp(), true),
		checkProfile("config.linux.security_context.apparmor", sc.GetApparmor(), false),
		checkPodResources("config.linux.overhead", c.GetLinux().GetOverhead(), n),
		checkPodResources("config.linux.resources", c.GetLinux().GetResources(), n),
	} {
		if err != nil {
			return err
		}
	}
	if ownUserns(ns.GetUsernsOptions()) {
		// The pod's root owns none of the host's IPC or PID namespaces:
		// it could mount neither their mqueue nor their /proc. (The
		// host's network is allowed: /sys is then bound, not mounted.)
		if ns.GetIpc() == host {
			return invalid("%s.ipc is NODE, which a pod with a user namespace of its own (userns_options mode POD) cannot have", nsField)
		}
		if ns.GetPid() == host {
			return invalid("%s.pid is NODE, which a pod with a user namespace of its own (userns_options mode POD) cannot have", nsField)
		}
	}
	return checkSysctls(c.GetLinux().GetSysctls(), ns.GetNetwork() != runtimeapi.NamespaceMode_NODE, ns.GetIpc() != runtimeapi.NamespaceMode_NODE)
}

func validateDNS(d *runtimeapi.DNSConfig) error {
	if d == nil {
		return nil
	}
	if len(d.Servers) > maxDNSServers || len(d.Searches) > maxDNSSearches || len(d.Options) > maxDNSOptions {
		return invalid("config.dns_config: at most %d servers, %d searches and %d options", maxDNSServers, maxDNSSearches, maxDNSOptions)
	}
	for _, s := range d.Servers {
		if _, err := netip.ParseAddr(s); err != nil {
			return invalid("config.dns_config.servers: %q is not an IP address", s)
		}
	}
	for _, list := range []struct {
		field string
		vals  []string
	}{{"searches", d.Searches}, {"options", d.Options}} {
		for _, v := range list.vals {
			if v == "" || len(v) > 253 || strings.ContainsAny(v, " \t\r\n\x00") {
				return invalid("config.dns_config.%s: %q must be one word of at most 253 characters", list.field, v)
			}
		}
	}
	return nil
}

// checkSysctls accepts the namespaced sysctls that Kubernetes allows a pod
// to set: net.* only with a network namespace of its own; kernel.shm*,
// kernel.msg*, kernel.sem and fs.mqueue.* only with its own IPC namespace.
// Anything else would change the host.
func checkSysctls(sysctls map[string]string, ownNet, ownIPC bool) error {
	if len(sysctls) > maxSysctls {
		return invalid("config.linux.sysctls has %d entries, at most %d allowed", len(sysctls), maxSysctls)
	}
	for k, v := range sysctls {
		key := strings.ReplaceAll(k, "/", ".")
		if k == "" || strings.Contains(key, "..") || strings.ContainsAny(k, " \n\x00") || len(k) > 256 {
			return invalid("config.linux.sysctls: %q is not a sysctl name", k)
		}
		if len(v) > 4096 || strings.ContainsAny(v, "\n\x00") {
			return invalid("config.linux.sysctls[%s]: the value must be one line of at most 4096 bytes", k)
		}
		switch {
		case strings.HasPrefix(key, "net."):
			if !ownNet {
				return invalid("config.linux.sysctls: %q needs a network namespace of the pod's own (it uses the host's)", k)
			}
		case strings.HasPrefix(key, "kernel.shm"), strings.HasPrefix(key, "kernel.msg"), key == "kernel.sem", strings.HasPrefix(key, "fs.mqueue."):
			if !ownIPC {
				return invalid("config.linux.sysctls: %q needs an IPC namespace of the pod's own (it uses the host's)", k)
			}
		default:
			return invalid("config.linux.sysctls: %q is not namespaced; a pod may not set it", k)
		}
	}
	return nil
}

// resolvConf renders the pod's /etc/resolv.conf from its DNS config, or
// returns the host's when the pod names no DNS settings.
func resolvConf(d *runtimeapi.DNSConfig, host []byte) []byte {
	if len(d.GetServers()) == 0 && len(d.GetSearches()) == 0 && len(d.GetOptions()) == 0 {
		return host
	}
	var b bytes.Buffer
	if len(d.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(d.Searches, " "))
	}
	for _, s := range d.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(d.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(d.Options, " "))
	}
	return b.Bytes()
}

// hostsFile renders the pod's /etc/hosts: loopback names, and the pod's
// own addresses under its hostname.
func hostsFile(hostname string, ips []string) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	return b.Bytes()
}

// pidMode maps the CRI's PID namespace mode to the sandbox record's.
func pidMode(m runtimeapi.NamespaceMode) string {
	switch m {
	case runtimeapi.NamespaceMode_POD:
		return "pod"
	case runtimeapi.NamespaceMode_NODE:
		return "node"
	}
	return "container"
}
