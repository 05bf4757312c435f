package framework

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Samples collects per-operation durations so that benchmarks report the
// median and p90 (robust on a noisy machine) next to Go's mean.
type Samples struct {
	d []time.Duration
}

// Start begins one sample; the returned function ends it.
func (s *Samples) Start() (stop func()) {
	t0 := time.Now()
	return func() { s.d = append(s.d, time.Since(t0)) }
}

// Add records one sample.
func (s *Samples) Add(d time.Duration) { s.d = append(s.d, d) }

// Len is the number of samples.
func (s *Samples) Len() int { return len(s.d) }

// Percentile returns the p-th percentile (0–100), nearest rank.
func (s *Samples) Percentile(p float64) time.Duration {
	if len(s.d) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), s.d...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Report adds median-ms and p90-ms metrics to b.
func (s *Samples) Report(b *testing.B) {
	b.ReportMetric(float64(s.Percentile(50).Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(s.Percentile(90).Microseconds())/1000, "p90-ms")
}

// ProcessMemory returns the resident and proportional set sizes of pid in KiB,
// from /proc/<pid>/smaps_rollup.
func ProcessMemory(t testing.TB, pid int) (rssKiB, pssKiB int) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "Rss:":
			rssKiB = v
		case "Pss:":
			pssKiB = v
		}
	}
	return rssKiB, pssKiB
}
