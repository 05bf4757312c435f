package network

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseNetDev(t *testing.T) {
	const header = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
`
	for _, tc := range []struct {
		name string
		in   string
		want []InterfaceStats
	}{
		{"loopback left out", header + `    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:   12345      10    1    2    0     0          0         0     6789       7    3    4    0     0       0          0
`, []InterfaceStats{{Name: "eth0", RxBytes: 12345, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 6789, TxPackets: 7, TxErrors: 3, TxDropped: 4}}},
		// A counter as wide as its column leaves no space after the colon.
		{"no space after the colon", header + `eth0:12345678901      10    1    2    0     0          0         0     6789       7    3    4    0     0       0          0
  net1:       5       1    0    0    0     0          0         0        6       1    0    0    0     0       0          0`,
			[]InterfaceStats{
				{Name: "eth0", RxBytes: 12345678901, RxPackets: 10, RxErrors: 1, RxDropped: 2, TxBytes: 6789, TxPackets: 7, TxErrors: 3, TxDropped: 4},
				{Name: "net1", RxBytes: 5, RxPackets: 1, TxBytes: 6, TxPackets: 1},
			}},
		{"a short line skipped", header + "  eth0: 1 2 3\n", nil},
		{"only loopback", header + "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseNetDev([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseNetDev = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReadInterfaceStatsVia: the counters are read through a process of
// the namespace when one is given, and by entering the namespace when the
// processes given are elsewhere; both read the namespace's interfaces,
// never the caller's.
func TestReadInterfaceStatsVia(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the test makes a network namespace: run it as root, as make test does")
	}
	ns, err := CreateNamespaces(NamespaceRequest{Dir: t.TempDir(), Net: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ReleaseNamespaces(ns); err != nil {
			t.Error(err)
		}
	}()
	if out, err := exec.Command("nsenter", "--net="+ns.Net, "ip", "link", "add", "nsv0", "type", "veth", "peer", "name", "nsv1").CombinedOutput(); err != nil {
		t.Fatalf("adding a veth pair in the namespace: %v: %s", err, out)
	}
	inside := exec.Command("nsenter", "--net="+ns.Net, "sleep", "60")
	if err := inside.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inside.Process.Kill(); _ = inside.Wait() }()
	// nsenter execs sleep once it has entered: wait for that.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", inside.Process.Pid)); strings.HasSuffix(exe, "sleep") || time.Now().After(deadline) {
			break
		}
	}
	names := func(ifs []InterfaceStats) []string {
		var out []string
		for _, i := range ifs {
			out = append(out, i.Name)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"nsv0", "nsv1"}
	for _, tc := range []struct {
		name string
		pids []int
	}{
		{"through a process of the namespace", []int{inside.Process.Pid}},
		{"a process elsewhere first, then one of the namespace", []int{os.Getpid(), inside.Process.Pid}},
		{"by entering the namespace", []int{os.Getpid(), 0}},
		{"no process", nil},
	} {
		ifs, err := ReadInterfaceStatsVia(ns.Net, tc.pids)
		if err != nil || !slices.Equal(names(ifs), want) {
			t.Errorf("%s: %v (%v), want %v", tc.name, names(ifs), err, want)
		}
	}
}
