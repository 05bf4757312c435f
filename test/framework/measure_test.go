package framework

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var s Samples
	for _, ms := range []int{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} {
		s.Add(time.Duration(ms) * time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 5 * time.Millisecond},
		{90, 9 * time.Millisecond},
		{100, 10 * time.Millisecond},
		{0, 1 * time.Millisecond},
	} {
		if got := s.Percentile(tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	var empty Samples
	if got := empty.Percentile(50); got != 0 {
		t.Errorf("empty Percentile = %v, want 0", got)
	}
}
