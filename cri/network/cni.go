package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// CNI attaches pods to the network described by the first configuration
// file in a directory, as the kubelet's users expect of a CRI runtime.
// The directory is re-read whenever its contents change, so a config
// dropped in later is picked up without a restart.
type CNI struct {
	confDir string
	cni     *libcni.CNIConfig

	mu   sync.Mutex // protects sig, list, why
	sig  string     // the directory's contents when last read
	list *libcni.NetworkConfigList
	why  string // why there is no usable config
}

// NewCNI returns a CNI over confDir and pluginDirs. cacheDir keeps each
// ADD's result and config durably, so that DEL works after a restart even
// if the config has changed since.
func NewCNI(confDir string, pluginDirs []string, cacheDir string) *CNI {
	return &CNI{confDir: confDir, cni: libcni.NewCNIConfigWithCacheDir(pluginDirs, cacheDir, nil)}
}

// Ready tells whether a usable network config exists and, if not, why.
func (c *CNI) Ready() (bool, string) {
	list, why := c.current()
	return list != nil, why
}

// current returns the config in effect, re-reading the directory if it
// changed.
func (c *CNI) current() (*libcni.NetworkConfigList, string) {
	sig := dirSignature(c.confDir)
	c.mu.Lock()
	defer c.mu.Unlock()
	if sig == c.sig && (c.list != nil || c.why != "") {
		return c.list, c.why
	}
	c.sig = sig
	c.list, c.why = loadFirst(c.confDir)
	return c.list, c.why
}

// dirSignature summarises names, sizes and times of the directory's files.
func dirSignature(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "error:" + err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s/%d/%d;", e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return b.String()
}

// loadFirst loads the first valid config in dir, in lexical order.
func loadFirst(dir string) (*libcni.NetworkConfigList, string) {
	files, err := libcni.ConfFiles(dir, []string{".conf", ".conflist", ".json"})
	if err != nil {
		return nil, fmt.Sprintf("reading CNI config directory %s: %v", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Sprintf("no CNI network config in %s", dir)
	}
	sort.Strings(files)
	var problems []string
	for _, f := range files {
		var list *libcni.NetworkConfigList
		if strings.HasSuffix(f, ".conflist") {
			list, err = libcni.NetworkConfFromFile(f)
		} else {
			var b []byte
			if b, err = os.ReadFile(f); err == nil {
				var conf *libcni.PluginConfig
				if conf, err = libcni.NetworkPluginConfFromBytes(b); err == nil {
					list, err = libcni.ConfListFromConf(conf)
				}
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", filepath.Base(f), err))
			continue
		}
		if len(list.Plugins) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no plugins", filepath.Base(f)))
			continue
		}
		return list, ""
	}
	return nil, fmt.Sprintf("no valid CNI network config in %s: %s", dir, strings.Join(problems, "; "))
}

// PortMapping is one CRI port mapping, in the portmap plugin's terms.
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Pod identifies a pod to the plugins.
type Pod struct {
	ID, Name, Namespace, UID string
	// NetNS is the pinned network namespace; empty after a reboot, when
	// only the host side is left to clean.
	NetNS        string
	PortMappings []PortMapping
}

// Attachment is what a successful ADD produced.
type Attachment struct {
	Network string
	Result  json.RawMessage
	IPs     []string
}

func (p Pod) runtimeConf() *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: p.ID,
		NetNS:       p.NetNS,
		IfName:      "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", p.ID},
			{"K8S_POD_UID", p.UID},
		},
	}
	if len(p.PortMappings) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": p.PortMappings}
	}
	return rt
}

// Setup runs CNI ADD for pod. On failure it runs DEL, so that nothing the
// plugins made half way stays behind.
func (c *CNI) Setup(ctx context.Context, pod Pod) (*Attachment, error) {
	list, why := c.current()
	if list == nil {
		return nil, fmt.Errorf("%w: network not ready: %s", errdefs.ErrFailedPrecondition, why)
	}
	res, err := c.cni.AddNetworkList(ctx, list, pod.runtimeConf())
	if err != nil {
		if delErr := c.cni.DelNetworkList(context.WithoutCancel(ctx), list, pod.runtimeConf()); delErr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, delErr)
		}
		return nil, fmt.Errorf("CNI ADD on network %q: %w", list.Name, err)
	}
	cur, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("CNI result of network %q: %w", list.Name, err)
	}
	raw, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	a := &Attachment{Network: list.Name, Result: raw}
	for _, ip := range cur.IPs {
		a.IPs = append(a.IPs, ip.Address.IP.String())
	}
	return a, nil
}

// Teardown runs CNI DEL for pod on network, with the config that its ADD
// used (from the cache), or the current one if the cache has none. An
// empty network means "whichever ADD may have started" (a crash during it);
// with no config at all, none can have, and there is nothing to do.
// Deleting what is already gone succeeds, as CNI requires of plugins.
func (c *CNI) Teardown(ctx context.Context, pod Pod, network string) error {
	rt := pod.runtimeConf()
	var list *libcni.NetworkConfigList
	if cached, _, err := c.cni.GetNetworkListCachedConfig(&libcni.NetworkConfigList{Name: network}, rt); err == nil && len(cached) > 0 {
		list, _ = libcni.NetworkConfFromBytes(cached)
	}
	if list == nil {
		cur, why := c.current()
		if cur == nil && network == "" {
			// No ADD finished, none is cached, and without a config none
			// can have started: there is nothing to delete.
			return nil
		}
		if cur == nil || (network != "" && cur.Name != network) {
			return fmt.Errorf("CNI DEL: the config of network %q is neither cached nor current (%s)", network, why)
		}
		list = cur
	}
	if err := c.cni.DelNetworkList(ctx, list, rt); err != nil {
		var cerr *cnitypes.Error
		if errors.As(err, &cerr) && cerr.Code == cnitypes.ErrUnknownContainer {
			return nil
		}
		return fmt.Errorf("CNI DEL on network %q: %w", network, err)
	}
	return nil
}
