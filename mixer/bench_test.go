//go:build unix

package mixer

import (
	"fmt"
	"math/rand/v2"
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

// BenchmarkMixerLatency runs a 1000-member room (3 talking) in real time,
// its clock and a feeder that pushes every member's packet every 20 ms with
// up to 15 ms of random network jitter, and reports the latency the server
// adds to a voice: packet in to mix out (jitter buffer + wait for the tick
// + mixing and encoding), p50 and p99. One op is one 20 ms of real time.
func BenchmarkMixerLatency(b *testing.B) {
	m := New(Config{})
	f := newFeeder(b, m, 3, 997, CodecOpus)
	m.Start()
	defer m.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	next := time.Now()
	for tick := range b.N {
		next = next.Add(FrameMillis * time.Millisecond)
		time.Sleep(time.Until(next) + time.Duration(rng.IntN(15))*time.Millisecond)
		seq, ts := uint16(tick), uint32(tick*FrameSamples)
		now := Now()
		for i, mb := range f.members {
			fr := f.frames[i]
			mb.Push(seq, ts, fr[tick%len(fr)], f.levels[i], now)
		}
	}
	b.StopTimer()
	p50, p99 := m.Latency()
	b.ReportMetric(float64(p50)/1e6, "p50-ms")
	b.ReportMetric(float64(p99)/1e6, "p99-ms")
	b.ReportMetric(float64(m.Stats().Skipped), "skipped-ticks")
}
