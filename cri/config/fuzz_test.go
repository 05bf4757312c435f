package config

import (
	"reflect"
	"testing"
)

// FuzzParse: any file gives a valid config or an error, never a panic; a
// config that parses writes back (Marshal, as `cria config` does) into a
// file that parses to the same config.
func FuzzParse(f *testing.F) {
	def := Default()
	b, _ := def.Marshal()
	f.Add(b)
	f.Add([]byte("root = \"/var/lib/x\"\n[pod]\nshm_size = \"1Gi\"\n[streaming]\nport = 10010\n"))
	f.Add([]byte("[image]\npinned_images = [\"registry.k8s.io/pause:*\"]\nmax_parallel_downloads = 0\n"))
	f.Add([]byte("monitor_cgroup = \"../x\"\n[[x]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("a parsed config does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a marshalled config does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, again)
		}
	})
}
