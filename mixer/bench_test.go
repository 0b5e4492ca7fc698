//go:build unix

package mixer

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMixer runs rooms of 10, 100 and 1000 Opus members of whom 3
// talk (the others send silence with RFC 6464 levels, as browsers do). One
// op is one 20 ms tick including the network readers' Push of every
// member's packet. Reported: CPU per tick and per member per tick (getrusage,
// so GC counts too), the share of one core the room needs, and Opus encodes
// per tick, which must be speakers + shared mixes, not members.
func BenchmarkMixer(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			m := New(Config{})
			f := newFeeder(b, m, 3, n-3, CodecOpus)
			for range 100 {
				f.step()
			}
			enc0 := m.Stats().Encodes
			b.ReportAllocs()
			b.ResetTimer()
			start := cpuTime(b)
			for range b.N {
				f.step()
			}
			cpu := cpuTime(b) - start
			b.StopTimer()
			perTick := float64(cpu.Microseconds()) / float64(b.N)
			b.ReportMetric(perTick, "cpu-us/tick")
			b.ReportMetric(perTick*1000/float64(n), "cpu-ns/member/tick")
			b.ReportMetric(perTick/(FrameMillis*1000)*100, "%core")
			b.ReportMetric(float64(m.Stats().Encodes-enc0)/float64(b.N), "encodes/tick")
		})
	}
}
