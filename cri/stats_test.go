package cri

import (
	"testing"

	"github.com/cria-runtime/cria/cri/network"
)

func TestNetworkUsage(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ifs         []network.InterfaceStats
		wantDefault string // "" for no usage at all
		wantCount   int
	}{
		{"no interfaces", nil, "", 0},
		{"eth0 only", []network.InterfaceStats{{Name: "eth0", RxBytes: 7}}, "eth0", 1},
		{"eth0 after another", []network.InterfaceStats{{Name: "net1"}, {Name: "eth0"}}, "eth0", 2},
		{"no eth0", []network.InterfaceStats{{Name: "net1"}, {Name: "net2"}}, "net1", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := networkUsage(42, tc.ifs)
			if tc.wantDefault == "" {
				if got != nil {
					t.Fatalf("usage = %v, want none", got)
				}
				return
			}
			if got == nil || got.DefaultInterface == nil {
				t.Fatalf("usage = %v, want default interface %s", got, tc.wantDefault)
			}
			if got.DefaultInterface.Name != tc.wantDefault || len(got.Interfaces) != tc.wantCount || got.Timestamp != 42 {
				t.Errorf("default %s, %d interfaces, timestamp %d; want %s, %d, 42", got.DefaultInterface.Name, len(got.Interfaces), got.Timestamp, tc.wantDefault, tc.wantCount)
			}
			for i, is := range got.Interfaces {
				if is.Name != tc.ifs[i].Name || is.RxBytes.GetValue() != tc.ifs[i].RxBytes || is.TxBytes == nil || is.RxErrors == nil || is.TxErrors == nil {
					t.Errorf("interface %d = %v, want %+v with every counter", i, is, tc.ifs[i])
				}
			}
		})
	}
}
