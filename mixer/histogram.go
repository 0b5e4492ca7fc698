package mixer

import (
	"sync/atomic"
	"time"
)

// histogram counts durations in 1 ms buckets up to 500 ms (the last bucket
// holds everything longer). One goroutine records; anyone may read.
type histogram struct {
	buckets [501]atomic.Uint64
}

func (h *histogram) record(ns int64) {
	i := min(max(ns/int64(time.Millisecond), 0), int64(len(h.buckets)-1))
	h.buckets[i].Add(1)
}

// quantile is the upper edge of the bucket holding the q-quantile, 0 when
// nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i := range h.buckets {
		if seen += h.buckets[i].Load(); seen >= rank {
			return time.Duration(i+1) * time.Millisecond
		}
	}
	return time.Duration(len(h.buckets)) * time.Millisecond
}
