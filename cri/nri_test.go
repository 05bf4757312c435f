package cri

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeResources(t *testing.T) {
	u64 := func(v uint64) *uint64 { return &v }
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name     string
		dst, src specs.LinuxResources
		want     string
	}{
		{name: "nothing set keeps all",
			dst:  specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Cpus: "0-1"}, Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}},
			want: `{"memory":{"limit":1073741824},"cpu":{"shares":512,"cpus":"0-1"}}`},
		{name: "what is set replaces, the rest stays",
			dst:  specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Cpus: "0-1"}, Memory: &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(1 << 30)}},
			src:  specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(20000), Mems: "0"}, Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}},
			want: `{"memory":{"limit":1048576,"swap":1073741824},"cpu":{"shares":512,"quota":20000,"cpus":"0-1","mems":"0"}}`},
		{name: "sections made where missing; unified merged",
			dst:  specs.LinuxResources{Unified: map[string]string{"memory.high": "1G"}},
			src:  specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(100000)}, Pids: &specs.LinuxPids{Limit: i64(100)}, Unified: map[string]string{"cpu.weight": "10"}},
			want: `{"cpu":{"period":100000},"pids":{"limit":100},"unified":{"cpu.weight":"10","memory.high":"1G"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mergeResources(&tc.dst, &tc.src)
			got, _ := json.Marshal(tc.dst)
			if string(got) != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}
