package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

func TestPrometheusEndpoint(t *testing.T) {
	reg := framework.StartRegistry(t)
	reg.Push(t, "e2e-test-images/busybox:1.29-2", framework.BuildImage(t, framework.ImageSpec{Cmd: []string{"sh"}}))
	d := framework.StartDaemon(t, framework.WithBridgeNetwork(), framework.WithRegistriesConf(reg.MirrorConf("registry.k8s.io")),
		framework.WithConfig(func(c *config.Config) { c.Metrics.Enabled, c.Metrics.Address = true, "127.0.0.1:0" }))
	if !d.WaitForLog("metrics serving", 5*time.Second) {
		t.Fatalf("no metrics endpoint in the log:\n%s", d.Log())
	}
	url := regexp.MustCompile(`url=(http://\S+/metrics)`).FindStringSubmatch(d.Log())[1]
	mustPull(t, d, busybox)
	id := runPod(t, d, podConfig())
	defer removePod(t, d, id)
	if _, err := d.Runtime.Version(ctxT(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`cria_rpc_duration_seconds_count{code="OK",method="Version"}`,
		`cria_rpc_duration_seconds_count{code="OK",method="RunPodSandbox"} 1`,
		`cria_image_pulls_total{result="success"} 1`,
		`cria_sandboxes{state="ready"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`cria_image_pull_bytes_total (\d+)`).FindStringSubmatch(text); m == nil || m[1] == "0" {
		t.Errorf("pull bytes not counted: %v", m)
	}
	if !strings.HasPrefix(strings.TrimPrefix(url, "http://"), "127.0.0.1:") {
		t.Errorf("metrics served on %s, want loopback", url)
	}
}

func TestPrometheusEndpointOffByDefault(t *testing.T) {
	d := framework.StartDaemon(t)
	if strings.Contains(d.Log(), "metrics serving") {
		t.Errorf("metrics endpoint started without being enabled")
	}
}
