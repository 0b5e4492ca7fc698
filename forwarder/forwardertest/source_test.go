package forwardertest

import (
	"testing"

	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder/vp8"
)

// parsed is one packet of a frame, decoded.
type parsed struct {
	hdr  rtp.Header
	pay  []byte
	desc vp8.Descriptor
}

func parseFrame(t *testing.T, pkts [][]byte) []parsed {
	t.Helper()
	out := make([]parsed, len(pkts))
	for i, raw := range pkts {
		var p rtp.Packet
		if err := p.Unmarshal(raw); err != nil {
			t.Fatalf("packet %d: rtp: %v", i, err)
		}
		out[i] = parsed{hdr: p.Header, pay: p.Payload}
		if err := out[i].desc.Unmarshal(p.Payload); err != nil {
			t.Fatalf("packet %d: vp8: %v", i, err)
		}
	}
	return out
}

func isKey(t *testing.T, s *VP8Source) bool {
	t.Helper()
	return parseFrame(t, s.NextFrame())[0].desc.Keyframe
}

func TestKeyframeInterval(t *testing.T) {
	s := NewVP8Source(VP8Config{SSRC: 1, KeyframeInterval: 5})
	for i := 0; i < 23; i++ {
		if got, want := isKey(t, s), i%5 == 0; got != want {
			t.Errorf("frame %d: key = %v, want %v", i, got, want)
		}
	}
	if s.Frames() != 23 {
		t.Errorf("Frames() = %d, want 23", s.Frames())
	}
}

func TestForceKeyframe(t *testing.T) {
	s := NewVP8Source(VP8Config{SSRC: 1, KeyframeInterval: 10})
	var keys []int
	for i := 0; i < 20; i++ {
		if i == 3 {
			s.ForceKeyframe()
		}
		if isKey(t, s) {
			keys = append(keys, i)
		}
	}
	// The forced key frame restarts the interval.
	want := []int{0, 3, 13}
	if len(keys) != len(want) || keys[0] != want[0] || keys[1] != want[1] || keys[2] != want[2] {
		t.Errorf("key frames at %v, want %v", keys, want)
	}
}

func TestFrameStructure(t *testing.T) {
	cfg := VP8Config{SSRC: 0xdeadbeef, FrameBytes: 2500, MTU: 1000, KeyframeInterval: 4}
	s := NewVP8Source(cfg)
	for f := 0; f < 8; f++ {
		pkts := parseFrame(t, s.NextFrame())
		checkFrame(t, f, pkts, s.Config())
	}
}

func checkFrame(t *testing.T, f int, pkts []parsed, cfg VP8Config) {
	t.Helper()
	total := 0
	for i, p := range pkts {
		if len(p.pay) > cfg.MTU || p.hdr.PayloadType != DefaultPayloadType || p.hdr.SSRC != cfg.SSRC {
			t.Errorf("frame %d packet %d: payload %d bytes, PT %d, SSRC %#x",
				f, i, len(p.pay), p.hdr.PayloadType, p.hdr.SSRC)
		}
		if p.desc.Start != (i == 0) || p.hdr.Marker != (i == len(pkts)-1) {
			t.Errorf("frame %d packet %d: S %v, marker %v", f, i, p.desc.Start, p.hdr.Marker)
		}
		total += len(p.pay) - p.desc.Size
	}
	want := cfg.FrameBytes
	if pkts[0].desc.Keyframe {
		want = cfg.KeyframeBytes
	}
	if total != want {
		t.Errorf("frame %d: %d bytes of VP8 data, want %d", f, total, want)
	}
}

func TestKeyframeHeader(t *testing.T) {
	s := NewVP8Source(VP8Config{SSRC: 5, Width: 1280, Height: 720})
	p := parseFrame(t, s.NextFrame())[0]
	h := p.pay[p.desc.Size:]
	if h[0]&1 != 0 || h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a {
		t.Fatalf("bad key frame header % x", h[:10])
	}
	if w, hh := int(h[6])|int(h[7])<<8, int(h[8])|int(h[9])<<8; w != 1280 || hh != 720 {
		t.Errorf("dimensions %dx%d, want 1280x720", w, hh)
	}
}

// TestProgressionAndWrap starts every counter just below its wrap point.
func TestProgressionAndWrap(t *testing.T) {
	s := NewVP8Source(VP8Config{SSRC: 9, FirstSeq: 65530, FirstTS: 0xffffffff - 4000,
		FirstPictureID: 0x7ffe, FirstTL0PICIDX: 254, FrameBytes: 2000, MTU: 600})
	seq, ts, pic, tl0 := uint16(65530), uint32(0xffffffff-4000), uint16(0x7ffe), uint8(254)
	for f := 0; f < 6; f++ {
		for _, p := range parseFrame(t, s.NextFrame()) {
			if p.hdr.SequenceNumber != seq || p.hdr.Timestamp != ts {
				t.Fatalf("frame %d: seq %d ts %d, want %d %d", f, p.hdr.SequenceNumber, p.hdr.Timestamp, seq, ts)
			}
			if p.desc.PictureID != pic || !p.desc.PictureID15 || p.desc.TL0PICIDX != tl0 {
				t.Fatalf("frame %d: picture ID %#x TL0 %d, want %#x %d", f, p.desc.PictureID, p.desc.TL0PICIDX, pic, tl0)
			}
			seq++
		}
		ts += 3000
		pic = (pic + 1) & 0x7fff
		tl0++
	}
}

func TestTemporalLayers(t *testing.T) {
	s := NewVP8Source(VP8Config{SSRC: 3, TemporalLayers: true, KeyframeInterval: 6})
	wantTID := []uint8{0, 2, 1, 2, 0, 2, 0, 2, 1, 2}
	wantTL0 := []uint8{0, 0, 0, 0, 1, 1, 2, 2, 2, 2}
	wantY := []bool{true, true, true, false, true, true, true, true, true, false}
	for f := range wantTID {
		for _, p := range parseFrame(t, s.NextFrame()) {
			d := p.desc
			if d.TID != wantTID[f] || d.TL0PICIDX != wantTL0[f] || d.LayerSync != wantY[f] {
				t.Fatalf("frame %d: TID %d TL0 %d Y %v, want TID %d TL0 %d Y %v", f, d.TID, d.TL0PICIDX, d.LayerSync, wantTID[f], wantTL0[f], wantY[f])
			}
		}
	}
}

func TestNoTemporalLayers(t *testing.T) {
	s := NewVP8Source(VP8Config{SSRC: 3})
	for f := 0; f < 10; f++ {
		d := parseFrame(t, s.NextFrame())[0].desc
		if !d.HasTID || d.TID != 0 || d.TL0PICIDX != uint8(f) {
			t.Fatalf("frame %d: TID %d TL0 %d", f, d.TID, d.TL0PICIDX)
		}
	}
}

func TestFrameOf(t *testing.T) {
	a := NewVP8Source(VP8Config{SSRC: 0x11111111, KeyframeInterval: 3})
	b := NewVP8Source(VP8Config{SSRC: 0x22222222, KeyframeInterval: 3})
	for f := uint32(0); f < 7; f++ {
		for _, s := range []*VP8Source{a, b} {
			pkts := parseFrame(t, s.NextFrame())
			ssrc, frame, ok := FrameOf(pkts[0].pay, &pkts[0].desc)
			if !ok || ssrc != s.Config().SSRC || frame != f {
				t.Errorf("FrameOf = %#x, %d, %v; want %#x, %d", ssrc, frame, ok, s.Config().SSRC, f)
			}
			if _, _, ok := FrameOf(pkts[1].pay, &pkts[1].desc); ok {
				t.Errorf("FrameOf accepted a continuation packet")
			}
		}
	}
}

func TestFrameOfRejectsCorruption(t *testing.T) {
	p := parseFrame(t, NewVP8Source(VP8Config{SSRC: 7}).NextFrame())[0]
	p.pay[p.desc.Size+keyHeaderLen+3] ^= 1 // flip a bit in the SSRC
	if _, _, ok := FrameOf(p.pay, &p.desc); ok {
		t.Error("FrameOf accepted a corrupted marker")
	}
	if _, _, ok := FrameOf(p.pay[:p.desc.Size+keyHeaderLen+markerLen-1], &p.desc); ok {
		t.Error("FrameOf accepted a truncated payload")
	}
	if _, _, ok := FrameOf(p.pay, nil); ok {
		t.Error("FrameOf accepted a nil descriptor")
	}
}

func TestDefaultsAndClamps(t *testing.T) {
	c := VP8Config{}.withDefaults()
	if c.PayloadType != 96 || c.KeyframeInterval != 30 || c.FrameBytes != 3000 || c.KeyframeBytes != 9000 ||
		c.MTU != 1100 || c.FPS != 30 || c.Width != 320 || c.Height != 180 {
		t.Errorf("defaults: %+v", c)
	}
	c = VP8Config{FrameBytes: 1, KeyframeBytes: 1, MTU: 1}.withDefaults()
	if c.FrameBytes != 11 || c.KeyframeBytes != 18 || c.MTU != 24 {
		t.Errorf("clamps: %+v", c)
	}
	s := NewVP8Source(VP8Config{SSRC: 4, FrameBytes: 1, MTU: 1})
	for f := uint32(0); f < 3; f++ {
		p := parseFrame(t, s.NextFrame())[0]
		if _, frame, ok := FrameOf(p.pay, &p.desc); !ok || frame != f {
			t.Errorf("frame %d: FrameOf = %d, %v", f, frame, ok)
		}
	}
}
