package forwarder

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
)

// sourcePackets returns at least count packets of src, whole frames.
func sourcePackets(src *forwardertest.VP8Source, count int) [][]byte {
	var pkts [][]byte
	for len(pkts) < count {
		pkts = append(pkts, src.NextFrame()...)
	}
	return pkts
}

// bindNop binds dt to a writer that discards, as pion's would for a peer.
func bindNop(tb testing.TB, dt *DownTrack, ssrc uint32) {
	tb.Helper()
	ctx := &fakeTrackContext{
		id:     fmt.Sprint(ssrc),
		ssrc:   webrtc.SSRC(ssrc),
		codecs: []webrtc.RTPCodecParameters{vp8Codec(negotiatedPT)},
		w:      nopWriter{},
	}
	if _, err := dt.Bind(ctx); err != nil {
		tb.Fatal(err)
	}
}

// replay hands r the packets one per call, 1 ms apart, as its reader
// goroutine would.
func replay(r *Receiver, pkts [][]byte) func() {
	i, now := 0, int64(time.Hour)
	return func() {
		r.handle(pkts[i], now)
		i++
		now += int64(time.Millisecond)
	}
}

// TestForwardDoesNotAllocate checks that, after warm-up, Receiver.handle
// fanning a packet out to 50 bound slots allocates nothing: with zero
// offsets (the payload goes out as received) and after a source switch (the
// descriptor is rewritten into the reader's scratch).
func TestForwardDoesNotAllocate(t *testing.T) {
	const subs, warmup, runs = 50, 100, 1000
	a := NewReceiver(ReceiverConfig{SSRC: 0xA}, nil)
	b := NewReceiver(ReceiverConfig{SSRC: 0xB}, nil)
	fromA := sourcePackets(forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: 0xA, TemporalLayers: true}), warmup+runs+1)
	fromB := sourcePackets(forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: 0xB, TemporalLayers: true,
		FirstSeq: 40000, FirstPictureID: 1000, FirstTL0PICIDX: 77}), warmup+runs+1)
	dts := make([]*DownTrack, subs)
	for i := range dts {
		dts[i] = NewDownTrack("v", "s")
		bindNop(t, dts[i], uint32(i+1))
		dts[i].SetSource(a)
	}

	stepA := replay(a, fromA)
	for range warmup {
		stepA()
	}
	if got := testing.AllocsPerRun(runs, stepA); got != 0 {
		t.Errorf("zero offsets: %v allocations per packet, want 0", got)
	}
	if s := dts[0].munger.cur; s.pid != 0 || s.tl0 != 0 || dts[0].Stats().Packets == 0 {
		t.Fatalf("zero-offset phase did not forward with zero offsets: %+v", s)
	}

	for _, dt := range dts {
		dt.SetSource(b)
	}
	stepB := replay(b, fromB)
	for range warmup {
		stepB()
	}
	if got := testing.AllocsPerRun(runs, stepB); got != 0 {
		t.Errorf("after a switch: %v allocations per packet, want 0", got)
	}
	if s := dts[0].munger.cur; s.src != b || (s.pid == 0 && s.tl0 == 0) {
		t.Fatalf("switch phase did not rewrite descriptors: %+v", s)
	}
}
