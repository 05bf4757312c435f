package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cri/config"
	"github.com/cria-runtime/cria/test/framework"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cria-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, cert
}

func TestStreamingTLS(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t, t.TempDir())
	d := framework.StartDaemon(t, framework.WithConfig(func(c *config.Config) {
		c.Streaming.TLSCertFile, c.Streaming.TLSKeyFile = certFile, keyFile
	}), framework.WithBridgeNetwork())
	id := runPod(t, d, podConfig())
	defer removePod(t, d, id)
	resp, err := d.Runtime.PortForward(ctxT(t), &runtimeapi.PortForwardRequest{PodSandboxId: id, Port: []int32{80}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Url, "https://127.0.0.1:") {
		t.Fatalf("URL %q, want https on loopback", resp.Url)
	}
	// A client that trusts the certificate gets an HTTP answer over TLS.
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r, err := client.Get(resp.Url)
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	r.Body.Close()
	// Plain HTTP is not served.
	plain := strings.Replace(resp.Url, "https://", "http://", 1)
	if r, err := (&http.Client{Timeout: 5 * time.Second}).Get(plain); err == nil && r.StatusCode < 400 {
		t.Errorf("plain HTTP answered %d", r.StatusCode)
	}
}

func TestStreamingTLSBadKeyFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	certFile, _, _ := selfSigned(t, dir)
	d := framework.NewDaemon(t, framework.WithConfig(func(c *config.Config) {
		c.Streaming.TLSCertFile, c.Streaming.TLSKeyFile = certFile, filepath.Join(dir, "missing.key")
	}))
	_, stderr, code := framework.RunCria(t, "--config", d.ConfigPath)
	if code == 0 || !strings.Contains(stderr, "streaming server TLS") {
		t.Errorf("exit %d, stderr %q; want a start failure naming the TLS setup", code, stderr)
	}
}
