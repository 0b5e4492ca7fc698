//go:build unix

package forwarder

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
	"github.com/confd/confd/forwarder/vp8"
)

// benchChunk is how many input packets each side forwards between two
// CPU-time readings. Sides alternate chunk by chunk so that both see the
// same machine state; a chunk is long enough that getrusage's microsecond
// resolution and cost do not matter, even at 50 subscribers.
const benchChunk = 128

// loop is one publisher's packets over two GOPs, replayable without end:
// lap k shifts sequence number, timestamp, picture ID and TL0PICIDX by k
// times the loop's advance, so the replayed stream stays continuous.
type loop struct {
	pkts   [][]byte
	hdrLen []int
	descs  []vp8.Descriptor
	dSeq   uint16
	dTS    uint32
	dPID   uint16
	dTL0   uint8
}

func newLoop(tb testing.TB, cfg forwardertest.VP8Config) *loop {
	tb.Helper()
	src := forwardertest.NewVP8Source(cfg)
	l := &loop{}
	for range 2 * src.Config().KeyframeInterval {
		l.pkts = append(l.pkts, src.NextFrame()...)
	}
	var first, next rtp.Packet
	var firstD, nextD vp8.Descriptor
	for _, raw := range l.pkts {
		var p rtp.Packet
		var d vp8.Descriptor
		if err := p.Unmarshal(raw); err != nil {
			tb.Fatal(err)
		}
		if err := d.Unmarshal(p.Payload); err != nil {
			tb.Fatal(err)
		}
		l.hdrLen = append(l.hdrLen, len(raw)-len(p.Payload))
		l.descs = append(l.descs, d)
	}
	if err := first.Unmarshal(l.pkts[0]); err != nil {
		tb.Fatal(err)
	}
	if err := next.Unmarshal(src.NextFrame()[0]); err != nil {
		tb.Fatal(err)
	}
	if firstD.Unmarshal(first.Payload) != nil || nextD.Unmarshal(next.Payload) != nil || !nextD.Keyframe {
		tb.Fatal("the loop must end where a key frame follows")
	}
	l.dSeq = next.SequenceNumber - first.SequenceNumber
	l.dTS = next.Timestamp - first.Timestamp
	l.dPID = nextD.PictureID - firstD.PictureID
	l.dTL0 = nextD.TL0PICIDX - firstD.TL0PICIDX
	return l
}

// fill writes packet i of the endless stream into dst and returns it.
func (l *loop) fill(dst []byte, i int) []byte {
	lap, j := i/len(l.pkts), i%len(l.pkts)
	out := dst[:len(l.pkts[j])]
	copy(out, l.pkts[j])
	binary.BigEndian.PutUint16(out[2:], binary.BigEndian.Uint16(out[2:])+uint16(lap)*l.dSeq)
	binary.BigEndian.PutUint32(out[4:], binary.BigEndian.Uint32(out[4:])+uint32(lap)*l.dTS)
	d := &l.descs[j]
	vp8.RewriteInPlace(out[l.hdrLen[j]:], d, d.PictureID+uint16(lap)*l.dPID, d.TL0PICIDX+uint8(lap)*l.dTL0)
	return out
}

// cpuTime is the process's user plus system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fanout is the two contenders with their per-side totals.
type fanout struct {
	subs    int
	confd   *Receiver
	pion    *webrtc.TrackLocalStaticRTP
	now     int64
	cpu     [2]time.Duration // confd, pion
	mallocs uint64           // during the confd side only
}

func newFanout(b *testing.B, subs int) *fanout {
	b.Helper()
	f := &fanout{subs: subs, now: int64(time.Hour)}
	f.confd = unstartedReceiver(ReceiverConfig{SSRC: 0xA, Kind: KindVideo})
	for i := range subs {
		dt := NewDownTrack("v", "s")
		bindNop(b, dt, uint32(i+1))
		dt.SetSource(f.confd)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "pion")
	if err != nil {
		b.Fatal(err)
	}
	for i := range subs {
		ctx := &fakeTrackContext{
			id:     fmt.Sprintf("pion-%d", i),
			ssrc:   webrtc.SSRC(i + 1),
			codecs: []webrtc.RTPCodecParameters{vp8Codec(negotiatedPT)},
			w:      nopWriter{},
		}
		if _, err := track.Bind(ctx); err != nil {
			b.Fatal(err)
		}
	}
	f.pion = track
	return f
}

// runConfd forwards pkts through the Receiver and its DownTracks.
func (f *fanout) runConfd(b *testing.B, pkts [][]byte) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := cpuTime(b)
	for _, raw := range pkts {
		f.confd.handle(raw, f.now)
		f.now += int64(time.Millisecond)
	}
	f.cpu[0] += cpuTime(b) - start
	runtime.ReadMemStats(&after)
	f.mallocs += after.Mallocs - before.Mallocs
}

// runPion forwards pkts through the TrackLocalStaticRTP bound subs times.
func (f *fanout) runPion(b *testing.B, pkts [][]byte) {
	start := cpuTime(b)
	for _, raw := range pkts {
		if _, err := f.pion.Write(raw); err != nil {
			b.Fatal(err)
		}
	}
	f.cpu[1] += cpuTime(b) - start
}

// BenchmarkFanout compares confd's fan-out (Receiver.handle to N bound
// DownTracks) with stock pion's (one TrackLocalStaticRTP bound N times) on
// the same packets, in CPU time measured within one run. One b.N iteration
// is one input packet through both.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{50, 200, 1000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, subs int) {
	l := newLoop(b, forwardertest.VP8Config{SSRC: 0xA, TemporalLayers: true})
	f := newFanout(b, subs)
	bufs := make([][MaxPacketSize]byte, benchChunk)
	pkts := make([][]byte, benchChunk)
	next := 0
	prepare := func(count int) [][]byte {
		for i := range count {
			pkts[i] = l.fill(bufs[i][:], next)
			next++
		}
		return pkts[:count]
	}
	// Warm up both sides on one chunk: the slots take their first key frame.
	warm := prepare(benchChunk)
	f.runConfd(b, warm)
	f.runPion(b, warm)
	*f = fanout{subs: f.subs, confd: f.confd, pion: f.pion, now: f.now}

	b.ResetTimer()
	for done, chunk := 0, 0; done < b.N; chunk++ {
		batch := prepare(min(benchChunk, b.N-done))
		if chunk%2 == 0 {
			f.runConfd(b, batch)
			f.runPion(b, batch)
		} else {
			f.runPion(b, batch)
			f.runConfd(b, batch)
		}
		done += len(batch)
	}
	b.StopTimer()

	forwarded := float64(b.N) * float64(subs)
	confd := forwarded / max(f.cpu[0].Seconds(), 1e-9)
	pion := forwarded / max(f.cpu[1].Seconds(), 1e-9)
	b.ReportMetric(confd, "confd-pkts/cpu-s")
	b.ReportMetric(pion, "pion-pkts/cpu-s")
	b.ReportMetric(confd/pion, "ratio")
	b.ReportMetric(float64(f.mallocs)/forwarded, "confd-allocs/pkt")
}
