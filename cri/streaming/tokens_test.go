package streaming

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after is how long after insert the token is used; twice uses it
		// a second time.
		after time.Duration
		twice bool
		found bool
	}{
		{name: "fresh", after: time.Second, found: true},
		{name: "at the end of its life", after: tokenTTL, found: true},
		{name: "expired", after: tokenTTL + time.Nanosecond},
		{name: "used twice", after: time.Second, twice: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			tk := newTokens()
			tk.now = func() time.Time { return now }
			token, err := tk.insert("request")
			if err != nil {
				t.Fatal(err)
			}
			now = now.Add(tc.after)
			req, ok := tk.consume(token)
			if tc.twice {
				req, ok = tk.consume(token)
			}
			if ok != tc.found || (ok && req != "request") {
				t.Errorf("consume = %v, %v; want found %v", req, ok, tc.found)
			}
			if len(tk.pending) != 0 {
				t.Errorf("%d requests still pending after consume", len(tk.pending))
			}
		})
	}
}

func TestTokensBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	tk := newTokens()
	tk.now = func() time.Time { return now }
	seen := map[string]bool{}
	for range maxPending {
		token, err := tk.insert("r")
		if err != nil {
			t.Fatal(err)
		}
		if len(token) < 22 || seen[token] {
			t.Fatalf("token %q is short or repeated", token)
		}
		seen[token] = true
	}
	if _, err := tk.insert("r"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("insert beyond %d pending: %v, want ResourceExhausted", maxPending, err)
	}
	// Expired requests make room again.
	now = now.Add(tokenTTL + time.Second)
	if _, err := tk.insert("r"); err != nil {
		t.Errorf("insert once the others expired: %v", err)
	}
	if len(tk.pending) != 1 {
		t.Errorf("%d pending, want the expired ones gone", len(tk.pending))
	}
}
