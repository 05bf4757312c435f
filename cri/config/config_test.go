package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
		check   func(t *testing.T, c Config)
	}{
		{name: "empty gives defaults", in: "", check: func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("got %+v, want defaults %+v", c, Default())
			}
		}},
		{name: "override keeps other defaults", in: "root = \"/srv/cria\"\n[log]\nlevel = \"debug\"\n", check: func(t *testing.T, c Config) {
			if c.Root != "/srv/cria" || c.Log.Level != "debug" {
				t.Errorf("overrides not applied: %+v", c)
			}
			if c.Socket != Default().Socket || c.Log.Format != "text" {
				t.Errorf("defaults lost: %+v", c)
			}
		}},
		{name: "unknown top-level key", in: "root = \"/a\"\nbogus = 1\n", wantErr: `:2:1: unknown key "bogus"`},
		{name: "unknown nested key", in: "[log]\nlevel = \"info\"\ncolour = true\n", wantErr: `:3:1: unknown key "log.colour"`},
		{name: "unknown table", in: "[nope]\nx = 1\n", wantErr: `unknown key "nope`},
		{name: "wrong type string for table", in: "log = \"loud\"\n", wantErr: `:1:`},
		{name: "wrong type int for string", in: "\n\nsocket = 42\n", wantErr: `:3:10: key "socket" has the wrong type: got a TOML integer, want a string`},
		{name: "wrong type nested", in: "[log]\nlevel = true\n", wantErr: `:2:9: key "log.level" has the wrong type: got a TOML boolean, want a string`},
		{name: "syntax error", in: "root = [\n", wantErr: `:1:`},
		{name: "relative root", in: "root = \"var/lib/cria\"\n", wantErr: `root: must be an absolute path`},
		{name: "unclean run_root", in: "run_root = \"/run/../cria\"\n", wantErr: `run_root: must be a clean path`},
		{name: "same root and run_root", in: "root = \"/x\"\nrun_root = \"/x\"\n", wantErr: `run_root: must differ from root`},
		{name: "empty socket", in: "socket = \"\"\n", wantErr: `socket: must be set`},
		{name: "long socket", in: "socket = \"/" + strings.Repeat("s", 120) + "\"\n", wantErr: `socket: path is 121 bytes`},
		{name: "bad cgroup driver", in: "cgroup_driver = \"cgroupv3\"\n", wantErr: `cgroup_driver: must be one of "cgroupfs", "systemd", got "cgroupv3"`},
		{name: "systemd driver accepted", in: "cgroup_driver = \"systemd\"\n", check: func(t *testing.T, c Config) {
			if c.CgroupDriver != "systemd" {
				t.Errorf("cgroup_driver = %q", c.CgroupDriver)
			}
		}},
		{name: "image section", in: "[image]\nstorage_driver = \"vfs\"\npull_progress_timeout = \"90s\"\npinned_images = [\"registry.k8s.io/pause:*\"]\n", check: func(t *testing.T, c Config) {
			if c.Image.StorageDriver != "vfs" || c.Image.PullProgressTimeoutDuration() != 90*time.Second || len(c.Image.PinnedImages) != 1 {
				t.Errorf("image section not applied: %+v", c.Image)
			}
			if c.Image.MaxParallelDownloads != 6 {
				t.Errorf("image defaults lost: %+v", c.Image)
			}
		}},
		{name: "bad duration", in: "[image]\npull_progress_timeout = \"soon\"\n", wantErr: `image.pull_progress_timeout: "soon" is not a duration`},
		{name: "stats period", in: "stats_collect_period = \"2s\"\n", check: func(t *testing.T, c Config) {
			if c.StatsCollectPeriodDuration() != 2*time.Second {
				t.Errorf("stats_collect_period = %s", c.StatsCollectPeriodDuration())
			}
		}},
		{name: "stats period too short", in: "stats_collect_period = \"100ms\"\n", wantErr: `stats_collect_period: "100ms" is not a duration between 1s and 10m`},
		{name: "duration too short", in: "[image]\npull_progress_timeout = \"10ms\"\n", wantErr: `image.pull_progress_timeout: must be at least 1s`},
		{name: "duration wrong type", in: "[image]\npull_progress_timeout = 300\n", wantErr: `key "image.pull_progress_timeout" has the wrong type`},
		{name: "storage root escapes", in: "[image]\nstorage_root = \"../elsewhere\"\n", wantErr: `image.storage_root: must be a clean path`},
		{name: "bad storage driver", in: "[image]\nstorage_driver = \"btrfs\"\n", wantErr: `image.storage_driver: must be one of "overlay", "vfs"`},
		{name: "parallel downloads bounded", in: "[image]\nmax_parallel_downloads = 1000\n", wantErr: `image.max_parallel_downloads: must be between 1 and 64`},
		{name: "bad pinned pattern", in: "[image]\npinned_images = [\"a*b*\"]\n", wantErr: `image.pinned_images: "a*b*"`},
		{name: "relative registries conf", in: "[image]\nregistries_conf = \"registries.conf\"\n", wantErr: `image.registries_conf: must be an absolute path`},
		{name: "shm size", in: "[pod]\nshm_size = \"128m\"\n", check: func(t *testing.T, c Config) {
			if c.Pod.ShmSizeBytes() != 128<<20 {
				t.Errorf("shm size = %d", c.Pod.ShmSizeBytes())
			}
		}},
		{name: "bad shm size", in: "[pod]\nshm_size = \"lots\"\n", wantErr: `pod.shm_size: "lots" is not a size`},
		{name: "tiny shm size", in: "[pod]\nshm_size = \"10\"\n", wantErr: `pod.shm_size: must be at least 4096 bytes`},
		{name: "relative cni conf dir", in: "[network]\ncni_conf_dir = \"net.d\"\n", wantErr: `network.cni_conf_dir: must be an absolute path`},
		{name: "no plugin dirs", in: "[network]\ncni_plugin_dirs = []\n", wantErr: `network.cni_plugin_dirs: must name at least one`},
		{name: "relative monitor", in: "monitor_path = \"cria-monitor\"\n", wantErr: `monitor_path: must be an absolute path`},
		{name: "monitor cgroup leaving its hierarchy", in: "monitor_cgroup = \"../escape\"\n", wantErr: `monitor_cgroup: must be a clean cgroup path`},
		{name: "monitor cgroup nested", in: "monitor_cgroup = \"system/cria-monitors\"\n"},
		{name: "runtime handlers", in: "runtime_handlers = [\"runc\", \"test-handler\"]\n"},
		{name: "CDI spec dirs", in: "cdi_spec_dirs = [\"/etc/cdi\"]\n"},
		{name: "CDI spec dir relative", in: "cdi_spec_dirs = [\"cdi\"]\n", wantErr: `cdi_spec_dirs: "cdi" must be a clean absolute path`},
		{name: "runtime handler not a DNS label", in: "runtime_handlers = [\"Test_Handler\"]\n", wantErr: `runtime_handlers: "Test_Handler" is not a DNS label`},
		{name: "runtime handler twice", in: "runtime_handlers = [\"a\", \"a\"]\n", wantErr: `runtime_handlers: "a" is listed twice`},
		{name: "streaming address", in: "[streaming]\naddress = \"localhost\"\n", wantErr: `streaming.address: "localhost" is not an IP address`},
		{name: "streaming port", in: "[streaming]\nport = 70000\n", wantErr: `streaming.port: must be within 0-65535`},
		{name: "streaming idle", in: "[streaming]\nidle_timeout = \"1ms\"\n", wantErr: `streaming.idle_timeout`},
		{name: "metrics address", in: "[metrics]\naddress = \"localhost\"\n", wantErr: `metrics.address: "localhost" is not an IP:port`},
		{name: "tls cert without key", in: "[streaming]\ntls_cert_file = \"/etc/cria/tls.crt\"\n", wantErr: `streaming.tls_cert_file: and streaming.tls_key_file must be set together`},
		{name: "relative tls key", in: "[streaming]\ntls_cert_file = \"/c\"\ntls_key_file = \"k\"\n", wantErr: `streaming.tls_key_file: must be an absolute path`},
		{name: "bad log level", in: "[log]\nlevel = \"verbose\"\n", wantErr: `log.level: must be one of`},
		{name: "bad log format", in: "[log]\nformat = \"xml\"\n", wantErr: `log.format: must be one of "text", "json", got "xml"`},
		{name: "nri section", in: "[nri]\nenable = false\nsocket_path = \"/run/nri/other.sock\"\nplugin_request_timeout = \"10s\"\ndisable_connections = true\n", check: func(t *testing.T, c Config) {
			if c.NRI.Enable || c.NRI.SocketPath != "/run/nri/other.sock" || c.NRI.RequestTimeoutDuration() != 10*time.Second || !c.NRI.DisableConnections {
				t.Errorf("nri = %+v", c.NRI)
			}
			if c.NRI.PluginPath != "/opt/nri/plugins" || c.NRI.RegistrationTimeoutDuration() != 5*time.Second {
				t.Errorf("nri defaults lost: %+v", c.NRI)
			}
		}},
		{name: "nri enabled by default", in: "", check: func(t *testing.T, c Config) {
			if !c.NRI.Enable || c.NRI.SocketPath != "/var/run/nri/nri.sock" || c.NRI.RequestTimeoutDuration() != 2*time.Second {
				t.Errorf("nri = %+v", c.NRI)
			}
		}},
		{name: "nri relative socket", in: "[nri]\nsocket_path = \"nri.sock\"\n", wantErr: `nri.socket_path: must be a clean absolute path`},
		{name: "nri plugin path unclean", in: "[nri]\nplugin_path = \"/opt/nri/../x\"\n", wantErr: `nri.plugin_path: must be a clean absolute path`},
		{name: "nri timeout", in: "[nri]\nplugin_request_timeout = \"1ms\"\n", wantErr: `nri.plugin_request_timeout: "1ms" is not a duration between 100ms and 10m`},
		{name: "nri registration timeout", in: "[nri]\nplugin_registration_timeout = \"soon\"\n", wantErr: `nri.plugin_registration_timeout`},
		{name: "two validation errors both named", in: "cgroup_driver = \"x\"\n[log]\nformat = \"xml\"\n", wantErr: "cgroup_driver: must be one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: unexpected error %v", err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse: got nil error, want one containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateNamesEveryKey(t *testing.T) {
	c := Config{Root: "rel", RunRoot: "", Socket: "/s", CgroupDriver: "x", Log: LogConfig{Level: "x", Format: "x"}}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate: got nil error")
	}
	for _, key := range []string{"root:", "run_root:", "cgroup_driver:", "log.level:", "log.format:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("Validate error %q does not name %s", err, key)
		}
	}
}

func TestMarshalRoundTrips(t *testing.T) {
	def := Default()
	out, err := def.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Every field is documented in the output.
	for _, want := range []string{"# Directory for durable state", "root = '/var/lib/cria'", "[log]", "# One of \"debug\""} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Marshal output lacks %q:\n%s", want, out)
		}
	}
	got, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal(Default())): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(got, def) {
		t.Errorf("round trip: got %+v, want %+v", got, def)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("[log]\nlevel = \"warn\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("root = \"/a\"\n[log]\nnoise = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, wantErr, wantLevel string
	}{
		{name: "file over defaults", path: good, wantLevel: "warn"},
		{name: "error names file line key", path: bad, wantErr: bad + `:3:1: unknown key "log.noise"`},
		{name: "explicit missing file", path: filepath.Join(dir, "none.toml"), wantErr: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Log.Level != tc.wantLevel {
				t.Errorf("log.level = %q, want %q", c.Log.Level, tc.wantLevel)
			}
		})
	}
}

func TestStoragePaths(t *testing.T) {
	for _, tc := range []struct {
		root, runRoot, storage, storageRun string
		want, wantRun                      string
	}{
		{"/var/lib/cria", "/run/cria", "storage", "storage", "/var/lib/cria/storage", "/run/cria/storage"},
		{"/srv/cria", "/run/x", "images/store", "s", "/srv/cria/images/store", "/run/x/s"},
		{"/var/lib/cria", "/run/cria", "/data/store", "/run/store", "/data/store", "/run/store"},
	} {
		c := Default()
		c.Root, c.RunRoot, c.Image.StorageRoot, c.Image.StorageRunRoot = tc.root, tc.runRoot, tc.storage, tc.storageRun
		if got := c.StorageRoot(); got != tc.want {
			t.Errorf("StorageRoot() = %q, want %q", got, tc.want)
		}
		if got := c.StorageRunRoot(); got != tc.wantRun {
			t.Errorf("StorageRunRoot() = %q, want %q", got, tc.wantRun)
		}
	}
}
