package network

import (
	"reflect"
	"testing"
)

func TestParseNetDev(t *testing.T) {
	in := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:   12345      10    1    2    0     0          0         0     6789       7    3    4    0     0       0          0
`)
	want := []InterfaceStats{{Name: "eth0", RxBytes: 12345, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 6789, TxPackets: 7, TxErrors: 3, TxDropped: 4}}
	if got := parseNetDev(in); !reflect.DeepEqual(got, want) {
		t.Errorf("parseNetDev = %+v, want %+v", got, want)
	}
}
