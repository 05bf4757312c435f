// Package config is cria's configuration: one struct, parsed from TOML, with
// embedded defaults and a pure Validate.
//
// The struct is the single source of truth. Its `comment` tags are the
// documentation that `cria config` prints, so the printed defaults and the
// parser can never disagree.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// DefaultPath is where the daemon looks for its config file when no
// --config flag is given. A missing file at this path means "use defaults";
// a missing file named explicitly is an error.
const DefaultPath = "/etc/cria/cria.toml"

// Config is the whole daemon configuration.
type Config struct {
	// Root holds durable state: records, image store. It survives reboots.
	Root string `toml:"root" json:"root" comment:"Directory for durable state (records, images). Survives reboots."`
	// RunRoot holds volatile state: sockets, pinned namespaces, monitor files.
	RunRoot string `toml:"run_root" json:"run_root" comment:"Directory for volatile state (pinned namespaces, monitor sockets). Lost on reboot."`
	// Socket is the path of the CRI gRPC unix socket.
	Socket string `toml:"socket" json:"socket" comment:"Path of the CRI gRPC unix socket (created with mode 0660). Kubelet: --container-runtime-endpoint=unix://<socket>."`
	// CgroupDriver is the requested cgroup driver.
	CgroupDriver string `toml:"cgroup_driver" json:"cgroup_driver" comment:"Cgroup driver: \"cgroupfs\" or \"systemd\". The driver in use is reported to the kubelet through RuntimeConfig; \"systemd\" falls back to \"cgroupfs\" (with a warning) where systemd is not the init."`
	// Log configures cria's own log (not container logs).
	Log LogConfig `toml:"log" json:"log" comment:"cria's own log, written to standard error."`
	// MonitorPath is the cria-monitor binary; empty means beside cria.
	MonitorPath string `toml:"monitor_path" json:"monitor_path" comment:"The cria-monitor binary (per-container monitor and pod pause program). Empty: the one beside the cria binary."`
	// MonitorCgroup is the cgroup monitors are moved into (cgroupfs).
	MonitorCgroup string `toml:"monitor_cgroup" json:"monitor_cgroup" comment:"With the cgroupfs driver, the cgroup (under the root of each hierarchy) that container monitors are moved into, out of the daemon's own, so that a service manager stopping the daemon's cgroup leaves them, and their memory is counted apart. Empty: they stay in the daemon's. With the systemd driver they stay in the daemon's unit, which must have KillMode=process (contrib/systemd/cria.service)."`
	// CheckpointDir is where CheckpointContainer may write archives.
	CheckpointDir string `toml:"checkpoint_dir" json:"checkpoint_dir" comment:"The only directory CheckpointContainer writes archives to (the kubelet's <root-dir>/checkpoints); a location elsewhere is refused."`
	// CDISpecDirs are where CDI device specs are read from.
	CDISpecDirs []string `toml:"cdi_spec_dirs" json:"cdi_spec_dirs" comment:"Directories of CDI (Container Device Interface) specs, later ones first; a container's CDI devices (config.cdi_devices, cdi.k8s.io/ annotations) are injected from them, and an unknown device fails its CreateContainer."`
	// RuntimeHandlers are the handler names accepted besides the default.
	RuntimeHandlers []string `toml:"runtime_handlers" json:"runtime_handlers" comment:"Runtime handlers (the handler of a RuntimeClass) accepted besides the default one (\"\"), each listed in Status. They all run pods the same way, through libcontainer; a name here lets a cluster's RuntimeClass objects (e.g. \"test-handler\", which Kubernetes' node e2e suite uses) select cria."`
	// Network configures pod networking.
	Network NetworkConfig `toml:"network" json:"network" comment:"Pod networking (CNI)."`
	// Pod configures pod sandboxes.
	Pod PodConfig `toml:"pod" json:"pod" comment:"Pod sandboxes."`
	// Streaming configures the exec/attach/port-forward server.
	Streaming StreamingConfig `toml:"streaming" json:"streaming" comment:"The server that exec, attach and port-forward streams go through (the kubelet proxies to it)."`
	// Metrics configures the Prometheus endpoint.
	Metrics MetricsConfig `toml:"metrics" json:"metrics" comment:"cria's own Prometheus metrics (RPC latency, pulls, objects by state) at http://<address>/metrics."`
	// StatsCollectPeriod is how often writable layers are measured.
	StatsCollectPeriod string `toml:"stats_collect_period" json:"stats_collect_period" comment:"How often each running container's writable layer is measured, in the background (Go duration, 1s to 10m); the stats RPCs report the last measurement. A measurement looks at no more than 10000 files of a layer, so a larger layer is measured over several periods."`
	// Image configures pulls and the image store.
	Image ImageConfig `toml:"image" json:"image" comment:"Image pulls and the image store (containers/storage)."`

	NRI NRIConfig `toml:"nri" json:"nri" comment:"The Node Resource Interface (github.com/containerd/nri): plugins that see every pod and container and may adjust them."`
}

// NetworkConfig configures CNI.
type NetworkConfig struct {
	CNIConfDir    string   `toml:"cni_conf_dir" json:"cni_conf_dir" comment:"CNI network configs: the first file (lexical order) is used. Watched: a config added later makes NetworkReady true without a restart."`
	CNIPluginDirs []string `toml:"cni_plugin_dirs" json:"cni_plugin_dirs" comment:"Directories searched for CNI plugin binaries."`
	CNICacheDir   string   `toml:"cni_cache_dir" json:"cni_cache_dir" comment:"CNI results and configs of attached pods, kept so teardown works after a restart. A relative path is under root."`
}

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	Enabled bool   `toml:"enabled" json:"enabled" comment:"Serve /metrics. Off by default."`
	Address string `toml:"address" json:"address" comment:"host:port to serve on; keep it on loopback."`
}

// StreamingConfig configures the streaming server.
type StreamingConfig struct {
	Address     string `toml:"address" json:"address" comment:"Address to listen on. Keep it on loopback unless TLS fronts it."`
	Port        int    `toml:"port" json:"port" comment:"TCP port; 0 picks a free one."`
	IdleTimeout string `toml:"idle_timeout" json:"idle_timeout" comment:"A stream with no traffic for this long is closed (Go duration)."`
	TLSCertFile string `toml:"tls_cert_file" json:"tls_cert_file" comment:"PEM certificate for serving streams over HTTPS; with tls_key_file. Empty: plain HTTP."`
	TLSKeyFile  string `toml:"tls_key_file" json:"tls_key_file" comment:"PEM private key of tls_cert_file."`
}

// IdleTimeoutDuration returns streaming.idle_timeout parsed.
func (c *StreamingConfig) IdleTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(c.IdleTimeout)
	return d
}

// PodConfig configures pod sandboxes.
type PodConfig struct {
	ShmSize string `toml:"shm_size" json:"shm_size" comment:"Size of each pod's /dev/shm (tmpfs), e.g. \"64Mi\" or \"64m\"."`
}

// ShmSizeBytes returns pod.shm_size in bytes; Validate has checked it.
func (c *PodConfig) ShmSizeBytes() int64 {
	n, _ := parseSize(c.ShmSize)
	return n
}

// parseSize reads a size such as "65536", "64k", "64Mi", "1G".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1 << 10}, {"K", 1 << 10}, {"m", 1 << 20}, {"M", 1 << 20}, {"g", 1 << 30}, {"G", 1 << 30}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a positive size")
	}
	return n * mult, nil
}

// StatsCollectPeriodDuration returns stats_collect_period parsed; Validate
// has checked it.
func (c *Config) StatsCollectPeriodDuration() time.Duration {
	d, _ := time.ParseDuration(c.StatsCollectPeriod)
	return d
}

// CNICacheDir is the absolute path of the CNI cache.
func (c *Config) CNICacheDir() string { return under(c.Root, c.Network.CNICacheDir) }

// ImageConfig configures the image service.
type ImageConfig struct {
	StorageRoot    string   `toml:"storage_root" json:"storage_root" comment:"Image and layer store. A relative path is under root."`
	StorageRunRoot string   `toml:"storage_run_root" json:"storage_run_root" comment:"The store's volatile state (mounts, locks). A relative path is under run_root."`
	StorageDriver  string   `toml:"storage_driver" json:"storage_driver" comment:"containers/storage graph driver: \"overlay\" or \"vfs\" (slow; for filesystems where overlay does not work)."`
	StorageOptions []string `toml:"storage_options" json:"storage_options" comment:"Graph driver options, e.g. [\"overlay.mountopt=nodev\"] (see containers-storage.conf(5))."`
	// RegistriesConf is read by containers/image; registries.conf.d beside it too.
	RegistriesConf string `toml:"registries_conf" json:"registries_conf" comment:"containers-registries.conf(5): mirrors, insecure and blocked registries. Drop-ins are read from <this path>.d. A missing file means no mirrors."`
	// SignaturePolicy is enforced only when the file exists.
	SignaturePolicy string `toml:"signature_policy" json:"signature_policy" comment:"containers-policy.json(5), enforced when the file exists; without it every image is accepted."`
	// PullProgressTimeout cancels a pull that has made no progress for this long.
	PullProgressTimeout string `toml:"pull_progress_timeout" json:"pull_progress_timeout" comment:"A pull that receives no bytes for this long is cancelled (Go duration, e.g. \"5m\")."`
	// MaxParallelDownloads bounds the layers fetched at once per pull.
	MaxParallelDownloads int `toml:"max_parallel_downloads" json:"max_parallel_downloads" comment:"Layers downloaded in parallel per pull."`
	// PinnedImages are reported pinned, so the kubelet never garbage-collects them.
	PinnedImages []string `toml:"pinned_images" json:"pinned_images" comment:"Images reported as pinned (never garbage-collected by the kubelet): exact names such as \"registry.k8s.io/pause:3.10\", or prefixes ending in \"*\"."`
}

// PullProgressTimeoutDuration returns image.pull_progress_timeout parsed; Validate
// has checked it.
func (c *ImageConfig) PullProgressTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(c.PullProgressTimeout)
	return d
}

// StorageRoot is the absolute path of the image store.
func (c *Config) StorageRoot() string { return under(c.Root, c.Image.StorageRoot) }

// StorageRunRoot is the absolute path of the image store's volatile state.
func (c *Config) StorageRunRoot() string { return under(c.RunRoot, c.Image.StorageRunRoot) }

func under(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// NRIConfig is the [nri] section.
type NRIConfig struct {
	Enable              bool   `toml:"enable" json:"enable" comment:"Serve NRI plugins. On by default, as in containerd and CRI-O; with no plugin connected it costs next to nothing."`
	SocketPath          string `toml:"socket_path" json:"socket_path" comment:"The unix socket that external plugins connect to (created with mode 0600, root only)."`
	PluginPath          string `toml:"plugin_path" json:"plugin_path" comment:"Pre-installed plugins, started by cria at boot: executables named <index>-<name>, e.g. \"10-logger\"."`
	PluginConfigPath    string `toml:"plugin_config_path" json:"plugin_config_path" comment:"Configuration of pre-installed plugins: <index>-<name>.conf or <name>.conf, handed to the plugin."`
	RegistrationTimeout string `toml:"plugin_registration_timeout" json:"plugin_registration_timeout" comment:"How long a plugin may take to register (Go duration)."`
	RequestTimeout      string `toml:"plugin_request_timeout" json:"plugin_request_timeout" comment:"How long a plugin may take to answer one request (Go duration). A plugin that takes longer is disconnected and the request goes on without it."`
	DisableConnections  bool   `toml:"disable_connections" json:"disable_connections" comment:"Do not listen on socket_path: only pre-installed plugins run."`
}

// RegistrationTimeoutDuration is RegistrationTimeout parsed (validated).
func (c *NRIConfig) RegistrationTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(c.RegistrationTimeout)
	return d
}

// RequestTimeoutDuration is RequestTimeout parsed (validated).
func (c *NRIConfig) RequestTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(c.RequestTimeout)
	return d
}

// LogConfig configures the daemon's log.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string `toml:"level" json:"level" comment:"One of \"debug\", \"info\", \"warn\", \"error\". At \"info\" every mutating RPC is logged; polling RPCs (List*, *Status) only at \"debug\" or when they fail."`
	// Format is text or json.
	Format string `toml:"format" json:"format" comment:"\"text\" (logfmt) or \"json\"."`
}

// Default returns the embedded defaults. Each call returns a fresh value.
func Default() Config {
	return Config{
		Root:            "/var/lib/cria",
		RunRoot:         "/run/cria",
		Socket:          "/run/cria/cria.sock",
		CgroupDriver:    "cgroupfs",
		MonitorCgroup:   "cria-monitors",
		CheckpointDir:   "/var/lib/kubelet/checkpoints",
		RuntimeHandlers: []string{"runc"},
		CDISpecDirs:     []string{"/etc/cdi", "/var/run/cdi"},
		Log: LogConfig{
			Level:  "info",
			Format: "text",
		},
		Network: NetworkConfig{
			CNIConfDir:    "/etc/cni/net.d",
			CNIPluginDirs: []string{"/opt/cni/bin", "/usr/lib/cni"},
			CNICacheDir:   "cni-cache",
		},
		Pod:                PodConfig{ShmSize: "64Mi"},
		Streaming:          StreamingConfig{Address: "127.0.0.1", Port: 0, IdleTimeout: "4h"},
		Metrics:            MetricsConfig{Enabled: false, Address: "127.0.0.1:9190"},
		StatsCollectPeriod: "10s",
		Image: ImageConfig{
			StorageRoot:          "storage",
			StorageRunRoot:       "storage",
			StorageDriver:        "overlay",
			StorageOptions:       []string{},
			RegistriesConf:       "/etc/containers/registries.conf",
			SignaturePolicy:      "/etc/containers/policy.json",
			PullProgressTimeout:  "5m",
			MaxParallelDownloads: 6,
			PinnedImages:         []string{},
		},
		NRI: NRIConfig{
			Enable:              true,
			SocketPath:          "/var/run/nri/nri.sock",
			PluginPath:          "/opt/nri/plugins",
			PluginConfigPath:    "/etc/nri/conf.d",
			RegistrationTimeout: "5s",
			RequestTimeout:      "2s",
		},
	}
}

// handlerNameRE is what a RuntimeClass handler may be (a DNS label, as
// the API server validates it).
var handlerNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// maxSocketPath is the longest path a unix socket can bind to on Linux
// (sun_path is 108 bytes including the terminating NUL).
const maxSocketPath = 107

// Validate checks c without touching the system. The error names every
// offending key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, p := range []struct{ key, val string }{
		{"root", c.Root}, {"run_root", c.RunRoot}, {"socket", c.Socket}, {"checkpoint_dir", c.CheckpointDir},
	} {
		switch {
		case p.val == "":
			bad(p.key, "must be set")
		case !filepath.IsAbs(p.val):
			bad(p.key, "must be an absolute path, got %q", p.val)
		case filepath.Clean(p.val) != p.val:
			bad(p.key, "must be a clean path (no \"..\", \".\" or trailing \"/\"), got %q", p.val)
		}
	}
	if len(c.Socket) > maxSocketPath {
		bad("socket", "path is %d bytes, longer than the %d a unix socket allows", len(c.Socket), maxSocketPath)
	}
	if c.Root != "" && c.Root == c.RunRoot {
		bad("run_root", "must differ from root (%q)", c.Root)
	}
	for _, p := range []struct{ key, val string }{
		{"image.storage_root", c.Image.StorageRoot}, {"image.storage_run_root", c.Image.StorageRunRoot},
	} {
		switch {
		case p.val == "":
			bad(p.key, "must be set")
		case filepath.Clean(p.val) != p.val || p.val == ".." || strings.HasPrefix(p.val, "../"):
			bad(p.key, "must be a clean path inside its base or an absolute path, got %q", p.val)
		}
	}
	for _, p := range []struct{ key, val string }{
		{"image.registries_conf", c.Image.RegistriesConf}, {"image.signature_policy", c.Image.SignaturePolicy},
	} {
		if !filepath.IsAbs(p.val) {
			bad(p.key, "must be an absolute path, got %q", p.val)
		}
	}
	if !filepath.IsAbs(c.Network.CNIConfDir) {
		bad("network.cni_conf_dir", "must be an absolute path, got %q", c.Network.CNIConfDir)
	}
	if len(c.Network.CNIPluginDirs) == 0 {
		bad("network.cni_plugin_dirs", "must name at least one directory")
	}
	for _, d := range c.Network.CNIPluginDirs {
		if !filepath.IsAbs(d) {
			bad("network.cni_plugin_dirs", "must be absolute paths, got %q", d)
		}
	}
	if p := c.Network.CNICacheDir; p == "" || filepath.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		bad("network.cni_cache_dir", "must be a clean path inside root or an absolute path, got %q", p)
	}
	if n, err := parseSize(c.Pod.ShmSize); err != nil {
		bad("pod.shm_size", "%q is not a size such as \"64Mi\"", c.Pod.ShmSize)
	} else if n < 4096 {
		bad("pod.shm_size", "must be at least 4096 bytes, got %q", c.Pod.ShmSize)
	}
	if net.ParseIP(c.Streaming.Address) == nil {
		bad("streaming.address", "%q is not an IP address", c.Streaming.Address)
	}
	if c.Streaming.Port < 0 || c.Streaming.Port > 65535 {
		bad("streaming.port", "must be within 0-65535, got %d", c.Streaming.Port)
	}
	if (c.Streaming.TLSCertFile == "") != (c.Streaming.TLSKeyFile == "") {
		bad("streaming.tls_cert_file", "and streaming.tls_key_file must be set together")
	}
	for _, p := range []struct{ key, val string }{{"streaming.tls_cert_file", c.Streaming.TLSCertFile}, {"streaming.tls_key_file", c.Streaming.TLSKeyFile}} {
		if p.val != "" && !filepath.IsAbs(p.val) {
			bad(p.key, "must be an absolute path, got %q", p.val)
		}
	}
	if d, err := time.ParseDuration(c.Streaming.IdleTimeout); err != nil || d < time.Second {
		bad("streaming.idle_timeout", "%q is not a duration of at least 1s", c.Streaming.IdleTimeout)
	}
	if host, _, err := net.SplitHostPort(c.Metrics.Address); err != nil || net.ParseIP(host) == nil {
		bad("metrics.address", "%q is not an IP:port", c.Metrics.Address)
	}
	if m := c.MonitorCgroup; m != "" && (path.Clean("/"+m) != "/"+strings.TrimPrefix(m, "/") || strings.Contains(m, "..")) {
		bad("monitor_cgroup", "must be a clean cgroup path without \"..\", got %q", m)
	}
	if c.MonitorPath != "" && !filepath.IsAbs(c.MonitorPath) {
		bad("monitor_path", "must be an absolute path, got %q", c.MonitorPath)
	}
	for _, d := range c.CDISpecDirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d {
			bad("cdi_spec_dirs", "%q must be a clean absolute path", d)
		}
	}
	seen := map[string]bool{}
	for _, h := range c.RuntimeHandlers {
		switch {
		case !handlerNameRE.MatchString(h):
			bad("runtime_handlers", "%q is not a DNS label (lower-case letters, digits and '-', at most 63)", h)
		case seen[h]:
			bad("runtime_handlers", "%q is listed twice", h)
		}
		seen[h] = true
	}
	for _, p := range []struct{ key, val string }{
		{"nri.socket_path", c.NRI.SocketPath}, {"nri.plugin_path", c.NRI.PluginPath}, {"nri.plugin_config_path", c.NRI.PluginConfigPath},
	} {
		if !filepath.IsAbs(p.val) || filepath.Clean(p.val) != p.val {
			bad(p.key, "must be a clean absolute path, got %q", p.val)
		}
	}
	if len(c.NRI.SocketPath) > maxSocketPath {
		bad("nri.socket_path", "path is %d bytes, longer than the %d a unix socket allows", len(c.NRI.SocketPath), maxSocketPath)
	}
	for _, p := range []struct{ key, val string }{
		{"nri.plugin_registration_timeout", c.NRI.RegistrationTimeout}, {"nri.plugin_request_timeout", c.NRI.RequestTimeout},
	} {
		if d, err := time.ParseDuration(p.val); err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
			bad(p.key, "%q is not a duration between 100ms and 10m", p.val)
		}
	}
	if d, err := time.ParseDuration(c.StatsCollectPeriod); err != nil || d < time.Second || d > 10*time.Minute {
		bad("stats_collect_period", "%q is not a duration between 1s and 10m", c.StatsCollectPeriod)
	}
	oneOf(bad, "image.storage_driver", c.Image.StorageDriver, "overlay", "vfs")
	if d, err := time.ParseDuration(c.Image.PullProgressTimeout); err != nil {
		bad("image.pull_progress_timeout", "%q is not a duration such as \"90s\" or \"5m\"", c.Image.PullProgressTimeout)
	} else if d < time.Second {
		bad("image.pull_progress_timeout", "must be at least 1s, got %s", d)
	}
	if c.Image.MaxParallelDownloads < 1 || c.Image.MaxParallelDownloads > 64 {
		bad("image.max_parallel_downloads", "must be between 1 and 64, got %d", c.Image.MaxParallelDownloads)
	}
	for _, p := range c.Image.PinnedImages {
		if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			bad("image.pinned_images", "%q: want a name, or a prefix ending in a single \"*\"", p)
		}
	}
	oneOf(bad, "cgroup_driver", c.CgroupDriver, "cgroupfs", "systemd")
	oneOf(bad, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(bad, "log.format", c.Log.Format, "text", "json")
	return errors.Join(errs...)
}

func oneOf(bad func(key, format string, args ...any), key, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	bad(key, "must be one of %s, got %q", quoteAll(allowed), val)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Load reads the config file at path over the defaults and validates the
// result. If path is DefaultPath and the file does not exist, the defaults
// are returned; any other missing file is an error. Errors name the file,
// line and key.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && path == DefaultPath {
		c := Default()
		return c, c.Validate()
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s%w", path, err)
	}
	return c, nil
}

// Parse decodes TOML over the defaults and validates the result. Unknown keys
// and values of the wrong type are errors; their messages start with
// ":line:column: " so that Load can prefix the file name.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, describe(err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf(": %w", err)
	}
	return c, nil
}

var tomlTypeRE = regexp.MustCompile(`cannot decode TOML (\w+)`)

// describe turns go-toml's errors into one line per problem, with position
// and the dotted key, in the words an operator editing the file needs.
func describe(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			row, col := e.Position()
			errs = append(errs, fmt.Errorf(":%d:%d: unknown key %q", row, col, strings.Join(e.Key(), ".")))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := strings.Join(de.Key(), ".")
		if m := tomlTypeRE.FindStringSubmatch(de.Error()); m != nil && key != "" {
			return fmt.Errorf(":%d:%d: key %q has the wrong type: got a TOML %s, want %s",
				row, col, key, m[1], kindOf(de.Key()))
		}
		if key != "" {
			return fmt.Errorf(":%d:%d: key %q: %s", row, col, key, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return fmt.Errorf(":%d:%d: %s", row, col, strings.TrimPrefix(de.Error(), "toml: "))
	}
	return fmt.Errorf(": %w", err)
}

// kindOf names the TOML type that the field at key expects.
func kindOf(key []string) string {
	t := reflect.TypeOf(Config{})
	for _, k := range key {
		if t.Kind() != reflect.Struct {
			break
		}
		for i := 0; i < t.NumField(); i++ {
			if strings.Split(t.Field(i).Tag.Get("toml"), ",")[0] == k {
				t = t.Field(i).Type
				break
			}
		}
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Struct:
		return "a table"
	}
	return t.String()
}

// Marshal renders c as TOML with every field documented.
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# cria configuration. Every key is optional; these are the built-in defaults.\n\n")
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
