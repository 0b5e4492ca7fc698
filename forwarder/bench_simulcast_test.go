//go:build unix

package forwarder

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/confd/confd/forwarder/forwardertest"
)

// simFanout is a plain single-layer fan-out and a three-layer one with
// per-slot layer selection, fed the same largest layer.
type simFanout struct {
	plain, layered       *Receiver
	plainDTs, layeredDTs []*DownTrack
	loops                [3]*loop
	next                 [3]int
	now                  int64
	cpu                  [2]time.Duration
	fwd                  [2]uint64
}

// simPattern is which layer each input packet comes from, in the
// proportion of one frame of each layer: 1, 2 and 5 packets.
var simPattern = [8]int{2, 0, 2, 1, 2, 2, 1, 2}

func newSimFanout(b *testing.B, subs int) *simFanout {
	b.Helper()
	f := &simFanout{now: int64(time.Hour)}
	src := forwardertest.NewSimulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs, TemporalLayers: true})
	for i, l := range src.Layers {
		f.loops[i] = newLoop(b, l.Config())
	}
	f.plain = unstartedReceiver(ReceiverConfig{SSRC: simSSRCs[2], Kind: KindVideo})
	f.layered = unstartedReceiver(ReceiverConfig{SSRC: simSSRCs[0], Kind: KindVideo}, simSSRCs[1], simSSRCs[2])
	for _, r := range []*Receiver{f.plain, f.layered} {
		r.clock = func() int64 { return f.now }
	}
	sizes := [3][2]int{{320, 180}, {640, 360}, {1280, 720}}
	for i := range subs {
		p := NewDownTrack("v", "s")
		bindNop(b, p, uint32(i+1))
		p.SetSource(f.plain)
		f.plainDTs = append(f.plainDTs, p)
		l := NewDownTrack("v", "s")
		bindNop(b, l, uint32(i+1))
		l.SetRenderSize(sizes[i%3][0], sizes[i%3][1])
		l.SetSource(f.layered)
		f.layeredDTs = append(f.layeredDTs, l)
	}
	return f
}

func forwarded(dts []*DownTrack) uint64 {
	var n uint64
	for _, dt := range dts {
		n += dt.Stats().Packets
	}
	return n
}

// run feeds count input packets to one side and adds its CPU time and
// forwarded packets.
func (f *simFanout) run(b *testing.B, side int, count int, bufs [][MaxPacketSize]byte) {
	dts, layer := f.plainDTs, f.plain.layer(0)
	if side == 1 {
		dts = f.layeredDTs
	}
	before := forwarded(dts)
	next := f.next
	pkts := make([][]byte, count) // outside the timed loop
	layers := make([]int, count)
	for i := range count {
		l := simPattern[(next[0]+next[1]+next[2])%len(simPattern)]
		if side == 0 {
			l = 2
		}
		pkts[i] = f.loops[l].fill(bufs[i][:], next[l])
		layers[i] = l
		next[l]++
	}
	start := cpuTime(b)
	for i, raw := range pkts {
		if side == 1 {
			layer = f.layered.layer(layers[i])
		}
		r := f.plain
		if side == 1 {
			r = f.layered
		}
		r.handleLayer(layer, raw, f.now)
		f.now += int64(time.Millisecond)
	}
	f.cpu[side] += cpuTime(b) - start
	f.fwd[side] += forwarded(dts) - before
	if side == 1 {
		f.next = next
	}
}

// BenchmarkSimulcastFanout compares the CPU cost per forwarded packet of
// a three-layer Receiver whose slots each pick a layer (a third per
// layer, so two thirds of the slots refuse each packet) with the plain
// single-layer fan-out, in one run. One b.N iteration is one input packet
// through each.
func BenchmarkSimulcastFanout(b *testing.B) {
	for _, subs := range []int{30, 300} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchSimFanout(b, subs) })
	}
}

func benchSimFanout(b *testing.B, subs int) {
	f := newSimFanout(b, subs)
	bufs := make([][MaxPacketSize]byte, benchChunk)
	plainNext := 0
	// Warm up: every slot takes its first key frame.
	for range 4 {
		f.run(b, 1, benchChunk, bufs)
	}
	f.runPlain(b, benchChunk, bufs, &plainNext)
	f.cpu, f.fwd = [2]time.Duration{}, [2]uint64{}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for done := 0; done < b.N; done += benchChunk {
		n := min(benchChunk, b.N-done)
		f.run(b, 1, n, bufs)
		f.runPlain(b, n, bufs, &plainNext)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	plain := float64(f.cpu[0].Nanoseconds()) / float64(max(f.fwd[0], 1))
	layered := float64(f.cpu[1].Nanoseconds()) / float64(max(f.fwd[1], 1))
	b.ReportMetric(plain, "plain-ns/fwd")
	b.ReportMetric(layered, "layered-ns/fwd")
	b.ReportMetric(layered/plain, "ratio")
	b.ReportMetric(float64(f.fwd[1])/float64(b.N), "layered-fwd/in")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(f.fwd[0]+f.fwd[1]), "allocs/fwd")
}

// runPlain feeds the plain side count packets of the largest layer.
func (f *simFanout) runPlain(b *testing.B, count int, bufs [][MaxPacketSize]byte, next *int) {
	pkts := make([][]byte, count)
	for i := range count {
		pkts[i] = f.loops[2].fill(bufs[i][:], *next)
		*next++
	}
	before := forwarded(f.plainDTs)
	layer := f.plain.layer(0)
	start := cpuTime(b)
	for _, raw := range pkts {
		f.plain.handleLayer(layer, raw, f.now)
		f.now += int64(time.Millisecond)
	}
	f.cpu[0] += cpuTime(b) - start
	f.fwd[0] += forwarded(f.plainDTs) - before
}

// pliCounter is a publisher's connection that counts PLIs and has the
// simulcast source answer each with a key frame of that layer.
type pliCounter struct {
	mu   sync.Mutex
	plis int
	src  *forwardertest.Simulcast
}

func (p *pliCounter) WriteRTCP(pkts []rtcp.Packet) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range pkts {
		if pli, ok := pkt.(*rtcp.PictureLossIndication); ok {
			p.plis++
			for i, ssrc := range simSSRCs {
				if pli.MediaSSRC == ssrc {
					p.src.Layers[i].ForceKeyframe()
				}
			}
		}
	}
	return nil
}

// BenchmarkSwitchKeyframes measures the key frame requests (PLIs) a
// publisher receives per 100 layer switches when 100 slots on it are
// resized together, back and forth between its smallest and largest
// layer: with requests coalesced and throttled per layer it is about one.
// One b.N iteration is one resize of all 100 slots.
func BenchmarkSwitchKeyframes(b *testing.B) {
	const slots = 100
	src := forwardertest.NewSimulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs, KeyframeInterval: 1 << 20})
	up := &pliCounter{src: src}
	// A short throttle keeps the benchmark fast; the count per switch
	// does not depend on it while frames come faster than it.
	// Switches ask at once: the benchmark counts the PLIs of switches, not
	// the publisher's own key frames they would otherwise wait for.
	r := NewReceiver(ReceiverConfig{Kind: KindVideo, KeyframeInterval: 2 * time.Millisecond, SwitchKeyframeWait: -1}, up)
	readers := make([]*blockingReader, 3)
	for i := range readers {
		readers[i] = newBlockingReader()
		if err := r.AddLayer(i, forwardertest.SimulcastRIDs[i], simSSRCs[i], readers[i]); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		r.Close()
		for _, rd := range readers {
			rd.close()
		}
		<-r.Done()
	}()
	dts := make([]*DownTrack, slots)
	for i := range dts {
		dts[i] = NewDownTrack("v", "s")
		bindNop(b, dts[i], uint32(i+1))
		dts[i].SetRenderSize(320, 180)
		dts[i].SetSource(r)
	}
	feed := func() {
		up.mu.Lock()
		frames := src.NextFrame()
		up.mu.Unlock()
		for l, pkts := range frames {
			for _, raw := range pkts {
				r.handleLayer(r.layer(l), raw, r.clock())
			}
		}
	}
	settle := func(layer int) {
		for !allOn(dts, layer) {
			feed()
			runtime.Gosched()
		}
	}
	settle(0)
	up.mu.Lock()
	up.plis = 0
	up.mu.Unlock()
	b.ResetTimer()
	switches := 0
	for i := range b.N {
		w, h, layer := 1280, 720, 2
		if i%2 == 1 {
			w, h, layer = 320, 180, 0
		}
		for _, dt := range dts {
			dt.SetRenderSize(w, h)
		}
		settle(layer)
		switches += slots
	}
	b.StopTimer()
	up.mu.Lock()
	defer up.mu.Unlock()
	b.ReportMetric(float64(up.plis)*100/float64(switches), "PLIs/100-switches")
}

func allOn(dts []*DownTrack, layer int) bool {
	for _, dt := range dts {
		if dt.Stats().Current.Spatial != layer {
			return false
		}
	}
	return true
}
