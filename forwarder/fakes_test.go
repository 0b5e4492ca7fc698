package forwarder

import (
	"bytes"
	"io"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

var (
	_ webrtc.TrackLocalContext = (*fakeTrackContext)(nil)
	_ webrtc.TrackLocalWriter  = nopWriter{}
	_ webrtc.TrackLocalWriter  = (*recorder)(nil)
	_ RTCPReader               = (*rtcpFeed)(nil)
	_ RTPReader                = (*blockingReader)(nil)
)

// rtpHeaderLen is the size of an RTP header without CSRCs or extensions.
const rtpHeaderLen = 12

// vp8Codec is a negotiated VP8 codec with payload type pt.
func vp8Codec(pt webrtc.PayloadType) webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        pt,
	}
}

// fakeTrackContext is the part of a webrtc.TrackLocalContext that a
// TrackLocal's Bind reads: codecs, SSRC, ID and the write stream.
type fakeTrackContext struct {
	id     string
	ssrc   webrtc.SSRC
	codecs []webrtc.RTPCodecParameters
	w      webrtc.TrackLocalWriter
}

func (c *fakeTrackContext) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }

func (c *fakeTrackContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }

func (c *fakeTrackContext) SSRC() webrtc.SSRC { return c.ssrc }

func (c *fakeTrackContext) SSRCRetransmission() webrtc.SSRC { return 0 }

func (c *fakeTrackContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }

func (c *fakeTrackContext) WriteStream() webrtc.TrackLocalWriter { return c.w }

func (c *fakeTrackContext) ID() string { return c.id }

func (c *fakeTrackContext) RTCPReader() interceptor.RTCPReader { return nil }

// nopWriter is a TrackLocalWriter that discards everything. It neither
// allocates nor retains what it is given.
type nopWriter struct{}

func (nopWriter) WriteRTP(_ *rtp.Header, payload []byte) (int, error) {
	return rtpHeaderLen + len(payload), nil
}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// sentPacket is one packet a recorder accepted, copied.
type sentPacket struct {
	hdr     rtp.Header
	payload []byte
}

// recorder is a TrackLocalWriter that copies what it accepts. While
// notReady is set it behaves like pion before the subscriber's DTLS
// handshake is done: it accepts the write, drops it and returns (0, nil).
type recorder struct {
	mu       sync.Mutex
	pkts     []sentPacket
	notReady bool
	dropped  []sentPacket // written while notReady
}

func (r *recorder) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	hdr := *h
	hdr.CSRC = append([]uint32(nil), h.CSRC...)
	hdr.Extensions = nil
	if r.notReady {
		r.dropped = append(r.dropped, sentPacket{hdr: hdr, payload: bytes.Clone(payload)})
		return 0, nil
	}
	r.pkts = append(r.pkts, sentPacket{hdr: hdr, payload: bytes.Clone(payload)})
	return h.MarshalSize() + len(payload), nil
}

func (r *recorder) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return r.WriteRTP(&p.Header, p.Payload)
}

func (r *recorder) setReady(ready bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notReady = !ready
}

// droppedWrites returns a copy of the list of packets written while not ready.
func (r *recorder) droppedWrites() []sentPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentPacket(nil), r.dropped...)
}

// sent returns a copy of the list of accepted packets.
func (r *recorder) sent() []sentPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentPacket(nil), r.pkts...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pkts)
}

// rtcpFeed is an RTCPReader fed from a channel, one RTCP compound packet per
// Read. handled receives a value once the packet before has been fully
// handled (the reader is back in Read); closing in makes Read fail.
type rtcpFeed struct {
	in      chan []byte
	handled chan struct{}
	pending bool // owned by the reading goroutine
}

func newRTCPFeed() *rtcpFeed {
	return &rtcpFeed{in: make(chan []byte), handled: make(chan struct{})}
}

func (f *rtcpFeed) Read(b []byte) (int, interceptor.Attributes, error) {
	if f.pending {
		f.handled <- struct{}{}
		f.pending = false
	}
	raw, ok := <-f.in
	if !ok {
		return 0, nil, io.EOF
	}
	f.pending = true
	return copy(b, raw), nil, nil
}

// send delivers pkts as one compound packet and waits until it is handled.
func (f *rtcpFeed) send(pkts ...rtcp.Packet) error {
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		return err
	}
	f.in <- raw
	<-f.handled
	return nil
}

// blockingReader is an RTPReader that delivers nothing until closed, then
// fails, the way a TrackRemote does when its PeerConnection closes.
type blockingReader struct{ stop chan struct{} }

func newBlockingReader() *blockingReader { return &blockingReader{stop: make(chan struct{})} }

func (r *blockingReader) Read([]byte) (int, interceptor.Attributes, error) {
	<-r.stop
	return 0, nil, io.EOF
}

func (r *blockingReader) close() { close(r.stop) }

// unstartedReceiver makes a Receiver with layer 0 (SSRC from cfg) and
// further layers with the given SSRCs, and no goroutine: the test calls
// handle or handleLayer itself, standing in for the reader goroutines.
func unstartedReceiver(cfg ReceiverConfig, more ...uint32) *Receiver {
	r := NewReceiver(cfg, nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.putLayerLocked(0, "", cfg.SSRC)
	for i, ssrc := range more {
		r.putLayerLocked(i+1, "", ssrc)
	}
	return r
}
