package framework

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is an OCI distribution registry served in-process on a loopback
// port of the test's network namespace. It keeps everything in memory and is
// shut down in t.Cleanup.
type Registry struct {
	// Host is "127.0.0.1:port", the registry's address in image references.
	Host string

	t      testing.TB
	server *httptest.Server
	user   string
	pass   string

	mu       sync.Mutex     // protects blobGets and throttle
	blobGets map[string]int // digest → GETs that served the blob's bytes
	// throttle, when positive, limits each blob response to this many
	// bytes a second; negative stalls blob responses until the client
	// gives up.
	throttle int
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry)

// WithBasicAuth makes the registry refuse every request that lacks these
// credentials, with a Basic challenge, as a private registry does.
func WithBasicAuth(user, pass string) RegistryOption {
	return func(r *Registry) { r.user, r.pass = user, pass }
}

// StartRegistry starts a registry on 127.0.0.1 and a random port.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	r := &Registry{t: t, blobGets: map[string]int{}}
	for _, o := range opts {
		o(r)
	}
	reg := registry.New(registry.Logger(discardLogger()))
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != r.user || p != r.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="cria-test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			d := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
			r.mu.Lock()
			r.blobGets[d]++
			throttle := r.throttle
			r.mu.Unlock()
			switch {
			case throttle < 0:
				<-req.Context().Done()
				return
			case throttle > 0:
				w = &throttledWriter{ResponseWriter: w, ctx: req.Context(), bytesPerSec: throttle}
			}
		}
		reg.ServeHTTP(w, req)
	}))
	r.Host = strings.TrimPrefix(r.server.URL, "http://")
	t.Cleanup(r.Close)
	return r
}

// ThrottleBlobs limits every later blob download to bytesPerSec; 0 removes
// the limit and a negative value makes blob downloads hang (a stalled
// registry).
func (r *Registry) ThrottleBlobs(bytesPerSec int) {
	r.mu.Lock()
	r.throttle = bytesPerSec
	r.mu.Unlock()
}

// MirrorConf returns a containers-registries.conf(5) that sends pulls for
// each of hosts (e.g. "registry.k8s.io") to this registry, under the same
// repository path, and lets this registry be named directly. It speaks
// plain HTTP, so every entry is insecure.
func (r *Registry) MirrorConf(hosts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[registry]]\nlocation = %q\ninsecure = true\n\n", r.Host)
	for _, h := range hosts {
		fmt.Fprintf(&b, "[[registry]]\nprefix = %q\nlocation = %q\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n\n", h, h, r.Host)
	}
	return b.String()
}

// Close shuts the registry down; later requests find nothing listening, as
// with a registry that is down. It may be called more than once.
func (r *Registry) Close() {
	r.server.Close()
}

// Push uploads img as repo:tag (a path on this registry, such as
// "e2e-test-images/busybox:1.29-2") and returns the manifest digest.
func (r *Registry) Push(t testing.TB, ref string, img v1.Image) v1.Hash {
	t.Helper()
	tag, err := name.NewTag(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatalf("bad reference %q: %v", ref, err)
	}
	if err := remote.Write(tag, img, remote.WithAuth(r.auth())); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// PushIndex uploads a multi-platform image index as repo:tag and returns
// the index digest.
func (r *Registry) PushIndex(t testing.TB, ref string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	tag, err := name.NewTag(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatalf("bad reference %q: %v", ref, err)
	}
	if err := remote.WriteIndex(tag, idx, remote.WithAuth(r.auth())); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// BlobGets tells how many times the blob with digest d ("sha256:…") was
// fetched.
func (r *Registry) BlobGets(d string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.blobGets[d]
}

func (r *Registry) auth() authn.Authenticator {
	if r.user == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.user, Password: r.pass}
}

// throttledWriter writes at most bytesPerSec, in slices of a tenth of it.
type throttledWriter struct {
	http.ResponseWriter
	ctx         context.Context
	bytesPerSec int
}

func (w *throttledWriter) Write(p []byte) (int, error) {
	chunk := max(w.bytesPerSec/10, 1)
	written := 0
	for len(p) > 0 {
		n := min(chunk, len(p))
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
		select {
		case <-w.ctx.Done():
			return written, w.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return written, nil
}
