package streaming

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	// tokenTTL is how long a URL from Exec, Attach or PortForward stays
	// valid; the kubelet connects within milliseconds.
	tokenTTL = time.Minute
	// maxPending bounds the requests whose URL was handed out but not yet
	// used, so a client cannot grow the table without end.
	maxPending = 1000
)

// tokens hands out single-use random tokens for stream requests. A token is
// the only credential of a stream URL, so it is 128 random bits.
type tokens struct {
	mu      sync.Mutex
	now     func() time.Time
	pending map[string]pendingRequest
}

type pendingRequest struct {
	req     any
	expires time.Time
}

func newTokens() *tokens {
	return &tokens{now: time.Now, pending: map[string]pendingRequest{}}
}

// insert stores req and returns its token.
func (t *tokens) insert(req any) (string, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", status.Errorf(codes.Internal, "stream token: %v", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, p := range t.pending {
		if now.After(p.expires) {
			delete(t.pending, k)
		}
	}
	if len(t.pending) >= maxPending {
		return "", status.Errorf(codes.ResourceExhausted, "%d stream requests are waiting for their client; retry later", maxPending)
	}
	t.pending[token] = pendingRequest{req: req, expires: now.Add(tokenTTL)}
	return token, nil
}

// consume returns the request of token and forgets it: a URL serves one
// stream. An expired token is not found.
func (t *tokens) consume(token string) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.pending[token]
	if !ok {
		return nil, false
	}
	delete(t.pending, token)
	if t.now().After(p.expires) {
		return nil, false
	}
	return p.req, true
}
