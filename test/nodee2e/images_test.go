package nodee2e

import (
	"archive/tar"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/cria-runtime/cria/test/framework"
)

// mirroredHosts are the registry hosts the suite's images come from. The
// daemon's registries.conf sends each to the local registry, which holds
// the substitutes under the same repository path and tag.
var mirroredHosts = []string{"registry.k8s.io", "gcr.io", "docker.io"}

// substitute is one image the lane pulls: its references without the
// registry host, and how it is built from the node's programs.
type substitute struct {
	refs []string
	spec func(p programs) framework.ImageSpec
}

// programs are the binaries the substitutes are made of.
type programs struct {
	busybox string // Debian's dynamically linked busybox (glibc, NSS)
	testbin []byte // test/conformance/testbin: nginx, pause, curl, nonewprivs
	agnhost []byte // k8s.io/kubernetes/test/images/agnhost at the kubelet's version
	bash    []byte // Debian's statically linked bash
	// A self-signed certificate for localhost, PEM.
	tlsCert, tlsKey []byte
}

// substitutes reproduces what the lane's specs observe of each image
// (k8s.io/kubernetes test/images/*/Dockerfile at the pinned version).
var substitutes = []substitute{
	// busybox:1.37.0 upstream; every spec that runs a shell.
	{refs: []string{"e2e-test-images/busybox:1.37.0-2"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{Cmd: []string{"sh"}}
	}},
	// alpine plus curl, netcat, bash, …; /agnhost (and agnhost-2),
	// /uploads, and a user 1000 in group 50000 defined in the image.
	{refs: []string{"e2e-test-images/agnhost:2.66.1", "e2e-test-images/agnhost:2.55"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{
			Entrypoint: []string{"/agnhost"},
			Cmd:        []string{"pause"},
			Passwd:     framework.DefaultPasswd + "user-defined-in-image:x:1000:1000:Linux User,,,:/home/user-defined-in-image:/bin/sh\n",
			Group:      framework.DefaultGroup + "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n",
			Files: map[string]framework.File{
				"agnhost":      {Content: p.agnhost, Mode: 0o755},
				"agnhost-2":    {Link: "agnhost"},
				"uploads":      {Special: tar.TypeDir, Mode: 0o755},
				"usr/bin/curl": {Content: p.testbin, Mode: 0o755},
				// busybox's nc has no -u; this one is found first.
				"usr/bin/nc": {Content: p.testbin, Mode: 0o755},
				// The probe specs' scripts run under /bin/bash.
				"bin/bash": {Content: p.bash, Mode: 0o755},
				// The porter certificate that netexec serves HTTPS with
				// (probes and hooks do not verify it).
				"localhost.crt": {Content: p.tlsCert},
				"localhost.key": {Content: p.tlsKey},
			},
		}
	}},
	// nginx:1.27-alpine: HTTP on port 80.
	{refs: []string{"e2e-test-images/nginx:1.27.0-2"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{
			Entrypoint: []string{"/usr/sbin/nginx"},
			Files:      map[string]framework.File{"usr/sbin/nginx": {Content: p.testbin, Mode: 0o755}},
		}
	}},
	// nnp installed setuid root: it reports uid 0 unless no_new_privs is set.
	{refs: []string{"e2e-test-images/nonewprivs:1.4"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{
			Cmd:   []string{"nnp"},
			Files: map[string]framework.File{"usr/local/bin/nnp": {Content: p.testbin, Mode: 0o4755}},
		}
	}},
	// busybox with USER 1234.
	{refs: []string{"e2e-test-images/nonroot:1.5"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{User: "1234", Cmd: []string{"sh"}}
	}},
	// Debian with glibc: `hostname -f` resolves through NSS (/etc/hosts).
	{refs: []string{"e2e-test-images/glibc-dns-testing:2.1.1"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{
			Cmd:   []string{"sh"},
			Files: map[string]framework.File{"etc/nsswitch.conf": {Content: []byte("hosts: files dns\n")}},
		}
	}},
	{refs: []string{"pause:3.10.2"}, spec: func(p programs) framework.ImageSpec {
		return framework.ImageSpec{
			Entrypoint: []string{"/pause"},
			Files:      map[string]framework.File{"pause": {Content: p.testbin, Mode: 0o755}},
		}
	}},
}

// pushSubstitutes builds every substitute and pushes it under its
// references.
func pushSubstitutes(t testing.TB, reg *framework.Registry) {
	t.Helper()
	p := programs{
		busybox: os.Getenv("CONFORMANCE_BUSYBOX"),
		testbin: framework.BuildStatic(t, "../conformance/testbin"),
		agnhost: readBinary(t, "AGNHOST", "agnhost"),
		bash:    readBinary(t, "BASH_STATIC", "bash-static"),
	}
	p.tlsCert, p.tlsKey = selfSigned(t, "localhost")
	if p.busybox == "" {
		t.Fatal("$CONFORMANCE_BUSYBOX must name Debian's dynamically linked busybox (package busybox); `make tools` fetches it into bin/")
	}
	for _, s := range substitutes {
		spec := s.spec(p)
		if spec.Files == nil {
			spec.Files = map[string]framework.File{}
		}
		// Upstream's busybox has the applet; specs time their
		// containers' starts with it.
		spec.Files["bin/nmeter"] = framework.File{Content: p.testbin, Mode: 0o755}
		// Applets are exec'd (masked paths stay masked) and glibc's NSS
		// answers getent and hostname -f, as in the upstream images.
		spec.Busybox = p.busybox
		spec.Labels = map[string]string{"org.cria.test.substitute-for": s.refs[0]}
		img := framework.BuildImage(t, spec)
		for _, ref := range s.refs {
			reg.Push(t, ref, img)
		}
	}
}

// selfSigned returns a certificate for host, signed by its own ECDSA key,
// and the key, in PEM.
func selfSigned(t testing.TB, host string) (cert, key []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func readBinary(t testing.TB, env, what string) []byte {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		t.Fatalf("$%s must name the %s binary; `make tools` builds it into bin/", env, what)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
