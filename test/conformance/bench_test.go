package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cria-runtime/cria/test/framework"
)

// benchmarkParams are critest's benchmark sizes: 50 lifecycles of each
// kind, one at a time (the machine is small and noisy; medians need
// samples, not parallel load).
const benchmarkParams = `containersNumber: 50
containersNumberParallel: 1
containerBenchmarkTimeoutSeconds: 120
podsNumber: 50
podsNumberParallel: 1
podBenchmarkTimeoutSeconds: 120
imagesNumber: 20
imagesNumberParallel: 1
imageBenchmarkTimeoutSeconds: 60
podContainerStartBenchmarkTimeoutSeconds: 30
`

// lifecycleResults is the JSON critest writes for each benchmark.
type lifecycleResults struct {
	OperationsNames []string `json:"operationsNames"`
	Datapoints      []struct {
		OperationsDurationsNs []int64 `json:"operationsDurationsNs"`
	} `json:"datapoints"`
}

// BenchmarkCritest runs `critest -benchmark` once against a fresh daemon
// and reports the median of each operation it times, in milliseconds.
func BenchmarkCritest(b *testing.B) {
	critest := critestBinary(b)
	d := startForCritest(b)
	defer d.RemoveAllPods(b)
	dir := filepath.Join(reportDir(b), "benchmark")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	params := filepath.Join(dir, "params.yaml")
	if err := os.WriteFile(params, []byte(benchmarkParams), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.CommandContext(ctx, critest, "-benchmark",
			"--runtime-endpoint", d.Endpoint(), "--image-endpoint", d.Endpoint(),
			"--benchmarking-params-file", params, "--benchmarking-output-dir", dir,
			"--ginkgo.no-color")
		cmd.Dir = b.TempDir()
		// critest makes its pods' log directories (podLogTest*) under
		// TMPDIR and leaves them: in the test's own, they go with it.
		cmd.Env = append(os.Environ(), "TMPDIR="+cmd.Dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("critest -benchmark: %v\n%s", err, framework.LastLines(string(out), 80))
		}
	}
	b.StopTimer()

	files, _ := filepath.Glob(filepath.Join(dir, "*_benchmark_data.json"))
	if len(files) == 0 {
		b.Fatalf("critest wrote no results into %s", dir)
	}
	var summary strings.Builder
	fmt.Fprintf(&summary, "%-28s %-24s %8s %10s %10s\n", "benchmark", "operation", "samples", "median ms", "p90 ms")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var res lifecycleResults
		if err := json.Unmarshal(raw, &res); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		bench := strings.TrimSuffix(filepath.Base(f), "_benchmark_data.json")
		for i, op := range res.OperationsNames {
			var ms []float64
			for _, dp := range res.Datapoints {
				if i < len(dp.OperationsDurationsNs) {
					ms = append(ms, float64(dp.OperationsDurationsNs[i])/1e6)
				}
			}
			if len(ms) == 0 {
				continue
			}
			slices.Sort(ms)
			med, p90 := ms[len(ms)/2], ms[len(ms)*9/10]
			fmt.Fprintf(&summary, "%-28s %-24s %8d %10.2f %10.2f\n", bench, op, len(ms), med, p90)
			b.ReportMetric(med, "ms/"+bench+"/"+op)
		}
	}
	b.Logf("critest -benchmark (results in %s):\n%s", dir, summary.String())
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(summary.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}
