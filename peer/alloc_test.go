package peer

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/mixer"
)

// nopWriter is a TrackLocalWriter that discards, as a bound track's write
// stream would hand packets on.
type nopWriter struct{}

func (nopWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) { return 12 + len(payload), nil }
func (nopWriter) Write(b []byte) (int, error)                         { return len(b), nil }

// trackContext is what TrackLocalStaticRTP.Bind reads.
type trackContext struct{ codecs []webrtc.RTPCodecParameters }

func (c trackContext) CodecParameters() []webrtc.RTPCodecParameters         { return c.codecs }
func (trackContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (trackContext) SSRC() webrtc.SSRC                                      { return 1234 }
func (trackContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (trackContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (trackContext) WriteStream() webrtc.TrackLocalWriter                   { return nopWriter{} }
func (trackContext) ID() string                                             { return "audio" }
func (trackContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// TestMixOutDoesNotAllocate: writing the mix's Opus frames to a browser's
// bound audio track allocates nothing per packet.
func TestMixOutDoesNotAllocate(t *testing.T) {
	mt, err := newMixTrack()
	if err != nil {
		t.Fatal(err)
	}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	if _, err := mt.track.Bind(trackContext{codecs: []webrtc.RTPCodecParameters{opus}}); err != nil {
		t.Fatal(err)
	}
	out := newAudioOut(mt)
	frame := make([]byte, 80)
	_ = out.WriteFrame(frame)
	if a := testing.AllocsPerRun(1000, func() { _ = out.WriteFrame(frame) }); a != 0 {
		t.Errorf("%v allocations per mix packet, want 0", a)
	}
}

// TestMicrophoneInDoesNotAllocate: a browser's Opus packet, with its RFC
// 6464 level, goes into the member's mix input (the jitter buffer) with no
// allocation; so does a garbage packet, dropped.
func TestMicrophoneInDoesNotAllocate(t *testing.T) {
	env := newEnv(t)
	p, _ := env.join(t, "3500", "alice")
	m := p.Where()
	am, err := m.Room.JoinAudio(m.Part, mixer.MemberOptions{In: mixer.CodecOpus, HasInput: true, Out: mixer.CodecOpus, Writer: discardFrames{}})
	if err != nil {
		t.Fatal(err)
	}
	p.audioIn.Store(am)
	const levelID = 1
	h := rtp.Header{Version: 2, PayloadType: 111, SSRC: 9, Timestamp: 1000, Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	if err := h.SetExtension(levelID, []byte{0x80 | 30}); err != nil {
		t.Fatal(err)
	}
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	var pcm [mixer.FrameSamples]int16
	payload := make([]byte, mixer.MaxPayload)
	n, err := enc.Encode(pcm[:], payload)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 0, 1500)
	garbage := []byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	var parse rtp.Header
	step := func() {
		h.SequenceNumber++
		h.Timestamp += mixer.FrameSamples
		b, _ := h.MarshalTo(raw[:cap(raw)])
		raw = raw[:b]
		raw = append(raw, payload[:n]...)
		p.audioPacket(raw, &parse, levelID)
		p.audioPacket(garbage, &parse, levelID)
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocations per microphone packet, want 0", a)
	}
}

type discardFrames struct{}

func (discardFrames) WriteFrame([]byte) error { return nil }

// TestEstimatorStampsWithoutAllocating: each video packet a subscriber
// is sent carries the next transport-wide sequence number, and numbering
// it (and recording it for the feedback) allocates nothing, as the
// forwarder's write path does not.
func TestEstimatorStampsWithoutAllocating(t *testing.T) {
	h := &bweHandoff{}
	in, err := estimatorFactory{h}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	const extID = 5
	info := &interceptor.StreamInfo{SSRC: 7, MimeType: "video/VP8",
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: extID}}}
	var last uint16
	var seen int
	w := in.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		ext := h.GetExtension(extID)
		if len(ext) != 2 {
			t.Fatalf("extension %x", ext)
		}
		seq := uint16(ext[0])<<8 | uint16(ext[1])
		if seen > 0 && seq != last+1 {
			t.Fatalf("sequence number %d after %d", seq, last)
		}
		last, seen = seq, seen+1
		return len(payload), nil
	}))
	hdr := &rtp.Header{Version: 2, SSRC: 7}
	payload := make([]byte, 100)
	write := func() {
		hdr.Extensions = hdr.Extensions[:0] // as the forwarder's DownTrack does
		_, _ = w.Write(hdr, payload, nil)
	}
	write()
	if a := testing.AllocsPerRun(1000, write); a != 0 {
		t.Errorf("%v allocations per packet, want 0", a)
	}
	if seen < 1000 {
		t.Fatalf("%d packets written", seen)
	}
	audio := &interceptor.StreamInfo{SSRC: 8, MimeType: "audio/opus", RTPHeaderExtensions: info.RTPHeaderExtensions}
	plain := interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil })
	ah := &rtp.Header{Version: 2, SSRC: 8}
	_, _ = in.BindLocalStream(audio, plain).Write(ah, payload, nil)
	if ah.GetExtension(extID) != nil {
		t.Error("an audio packet was numbered")
	}
}
