// Package prom is cria's one home for github.com/prometheus/client_golang:
// the optional /metrics endpoint with per-RPC latency, image pull volume and
// the number of sandboxes and containers by state.
package prom

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// Counts reports, at scrape time, how many sandboxes and containers there
// are in each state.
type Counts func() (sandboxes, containers map[string]int)

// Metrics records cria's own metrics.
type Metrics struct {
	reg      *prometheus.Registry
	rpc      *prometheus.HistogramVec
	pulls    *prometheus.CounterVec
	pullTime prometheus.Histogram
	pullSize prometheus.Counter
}

// New makes the metrics; counts is read at every scrape.
func New(counts Counts) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cria_rpc_duration_seconds", Help: "CRI RPC latency by method and gRPC code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method", "code"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cria_image_pulls_total", Help: "Image pulls by result.",
		}, []string{"result"}),
		pullTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cria_image_pull_duration_seconds", Help: "Image pull duration.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		pullSize: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cria_image_pull_bytes_total", Help: "Bytes received by image pulls.",
		}),
	}
	m.reg.MustRegister(m.rpc, m.pulls, m.pullTime, m.pullSize, &countCollector{counts: counts},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRPC records one RPC.
func (m *Metrics) ObserveRPC(method, code string, d time.Duration) {
	m.rpc.WithLabelValues(method, code).Observe(d.Seconds())
}

// ObservePull records one pull.
func (m *Metrics) ObservePull(bytes uint64, d time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.pulls.WithLabelValues(result).Inc()
	m.pullTime.Observe(d.Seconds())
	m.pullSize.Add(float64(bytes))
}

// maxScrapeConns bounds the metrics endpoint's open connections.
const maxScrapeConns = 64

// Serve serves /metrics on addr until the returned server is closed. It
// returns the address actually listened on.
func (m *Metrics) Serve(addr string) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	// Scrapers are few: a bounded number of connections, and kept-alive
	// ones closed when idle, as the streaming server does.
	ln = netutil.LimitListener(ln, maxScrapeConns)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	// Serve returns only on Close (or a failed listener, after which
	// scrapes fail and say so).
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

var (
	sandboxesDesc  = prometheus.NewDesc("cria_sandboxes", "Pod sandboxes by state.", []string{"state"}, nil)
	containersDesc = prometheus.NewDesc("cria_containers", "Containers by state.", []string{"state"}, nil)
)

type countCollector struct{ counts Counts }

func (c *countCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sandboxesDesc
	ch <- containersDesc
}

func (c *countCollector) Collect(ch chan<- prometheus.Metric) {
	sandboxes, containers := c.counts()
	for state, n := range sandboxes {
		ch <- prometheus.MustNewConstMetric(sandboxesDesc, prometheus.GaugeValue, float64(n), state)
	}
	for state, n := range containers {
		ch <- prometheus.MustNewConstMetric(containersDesc, prometheus.GaugeValue, float64(n), state)
	}
}
