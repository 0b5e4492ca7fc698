package forwarder

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/vp8"
)

// RTPWriter writes one outgoing packet; pion's TrackLocalWriter satisfies it.
// header and payload are valid only during the call.
type RTPWriter interface {
	WriteRTP(header *rtp.Header, payload []byte) (int, error)
}

// RTCPReader is the RTCP coming back from a subscriber; *webrtc.RTPSender
// satisfies it.
type RTCPReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

type binding struct {
	ssrc      uint32
	pt        uint8
	w         RTPWriter
	delivered atomic.Bool // a packet has reached this binding's transport
}

// DownTrackStats are the counters of one DownTrack.
type DownTrackStats struct {
	Packets, Bytes, Switches, WriteErrors, NACKs, Retransmits, KeyframeRequests uint64
}

// DownTrack is one subscriber video slot: a webrtc.TrackLocal whose source
// Receiver can be changed with SetSource while it keeps one SSRC and one
// continuous sequence of numbers.
type DownTrack struct {
	// The fields every forwarded packet touches come first, together.
	bind    atomic.Pointer[binding]
	mu      sync.Mutex
	src     *Receiver // guarded by mu
	waiting bool      // guarded by mu: nothing is forwarded until a key frame of src
	packets uint64    // guarded by mu: counted when translated, taken back if not delivered
	bytes   uint64    // guarded by mu
	munger  Munger    // guarded by mu; its NACK history comes last

	switches uint64 // guarded by mu

	writeErrors, nacks, retransmits, plis atomic.Uint64

	id, streamID string
}

// NewDownTrack makes an unbound slot track with the given track and stream IDs.
func NewDownTrack(id, streamID string) *DownTrack {
	return &DownTrack{id: id, streamID: streamID}
}

// Bind implements webrtc.TrackLocal: it picks the negotiated VP8 codec.
// A new binding is a new stream for its receiver, which must begin on a key
// frame and may again be dropped by pion until its DTLS is up, so the slot
// waits for its source's next key frame as after a switch.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeVP8) {
			d.restart()
			d.bind.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream()})
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, ErrNoCodec
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bind.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }

// SSRC is the outgoing SSRC, 0 until bound.
func (d *DownTrack) SSRC() uint32 {
	if b := d.bind.Load(); b != nil {
		return b.ssrc
	}
	return 0
}

// SetSource makes r the slot's source (nil empties the slot). The slot
// forwards nothing more from the old source and nothing from r until r's
// next key frame, which is requested now.
func (d *DownTrack) SetSource(r *Receiver) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.src == r {
		return
	}
	if d.src != nil {
		d.src.RemoveSink(d)
	}
	d.src = r
	d.waiting = true
	if r != nil {
		r.AddSink(d)
		r.RequestKeyframe()
	}
}

// Source is the current source, nil when the slot is empty.
func (d *DownTrack) Source() *Receiver {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.src
}

// WriteRTP implements Sink: translate p under the lock, write outside it.
func (d *DownTrack) WriteRTP(p *Packet, out *Scratch) {
	b := d.bind.Load()
	if b == nil {
		return
	}
	t, ok := d.translate(p)
	if !ok {
		return
	}
	d.write(b, p, out, t)
}

func (d *DownTrack) translate(p *Packet) (Translation, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.Source != d.src {
		return Translation{}, false
	}
	return d.translateLocked(p)
}

func (d *DownTrack) translateLocked(p *Packet) (Translation, bool) {
	if d.waiting {
		if !p.Keyframe {
			p.Source.RequestKeyframe()
			return Translation{}, false
		}
		d.munger.Switch(p.Source, p, p.Arrival)
		d.waiting = false
		d.switches++
	}
	if len(p.Payload) == 0 {
		d.munger.Drop(p.Header.SequenceNumber)
		return Translation{}, false
	}
	t, ok := d.munger.Translate(p, p.Arrival)
	if ok {
		d.packets++
		d.bytes += uint64(len(p.Payload))
	}
	return t, ok
}

// write fills out.Header and sends. Header extensions are not forwarded: their
// IDs were negotiated with the publisher, not with this subscriber.
func (d *DownTrack) write(b *binding, p *Packet, out *Scratch, t Translation) {
	h := &out.Header
	h.Version = 2
	h.Padding, h.Extension, h.Marker = false, false, p.Header.Marker
	h.PayloadType = b.pt
	h.SequenceNumber, h.Timestamp, h.SSRC = t.Seq, t.TS, b.ssrc
	h.CSRC, h.Extensions, h.ExtensionProfile = nil, nil, 0
	payload := p.Payload
	if t.Rewrite {
		n, err := vp8.Rewrite(out.Buf[:], payload, &p.VP8, t.PictureID, t.TL0PICIDX)
		if err != nil {
			return
		}
		payload = out.Buf[:n]
	}
	n, err := b.w.WriteRTP(h, payload)
	switch {
	case err != nil:
		d.writeErrors.Add(1)
	case n == 0 && !b.delivered.Load():
		d.undelivered(len(payload))
	case !b.delivered.Load():
		b.delivered.Store(true)
	}
}

// restart makes the slot wait for a key frame again. pion accepts writes
// before the subscriber's DTLS handshake has finished and drops them,
// returning 0 bytes written; the subscriber must still begin its stream on
// a key frame.
func (d *DownTrack) restart() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waiting = true
}

// undelivered takes back a packet the transport dropped and restarts.
func (d *DownTrack) undelivered(size int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waiting = true
	d.packets--
	d.bytes -= uint64(size)
}

// ServeRTCP reads the subscriber's RTCP for this slot until r fails: key
// frame requests go to the current source (throttled there), NACKs are
// answered from the source's packet cache.
func (d *DownTrack) ServeRTCP(r RTCPReader) {
	buf := make([]byte, MaxPacketSize)
	nack := &Scratch{}
	for {
		n, _, err := r.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			d.handleRTCP(pkt, nack)
		}
	}
}

func (d *DownTrack) handleRTCP(pkt rtcp.Packet, scratch *Scratch) {
	switch p := pkt.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		d.plis.Add(1)
		if src := d.Source(); src != nil {
			src.RequestKeyframe()
		}
	case *rtcp.TransportLayerNack:
		for _, pair := range p.Nacks {
			pair.Range(func(seq uint16) bool {
				d.retransmit(seq, scratch)
				return true
			})
		}
	}
}

// retransmit re-sends output sequence number seq from the source's cache,
// translated exactly as it was the first time (RFC 4585 §6.2.1).
func (d *DownTrack) retransmit(seq uint16, out *Scratch) {
	d.nacks.Add(1)
	b := d.bind.Load()
	d.mu.Lock()
	seg, inSeq, ok := d.munger.Reverse(seq)
	d.mu.Unlock()
	if !ok || b == nil || seg.src == nil {
		return
	}
	var raw [MaxPacketSize]byte
	n, ok := seg.src.Packet(inSeq, raw[:])
	if !ok {
		return
	}
	var p Packet
	var hdr rtp.Header
	p.Header = &hdr
	if !parsePacket(&p, raw[:n], seg.src.cfg.Kind) {
		return
	}
	d.write(b, &p, out, seg.apply(&p))
	d.retransmits.Add(1)
}

// Stats returns the DownTrack's counters.
func (d *DownTrack) Stats() DownTrackStats {
	d.mu.Lock()
	sw, pkts, bytes := d.switches, d.packets, d.bytes
	d.mu.Unlock()
	return DownTrackStats{
		Packets: pkts, Bytes: bytes, Switches: sw, WriteErrors: d.writeErrors.Load(),
		NACKs: d.nacks.Load(), Retransmits: d.retransmits.Load(), KeyframeRequests: d.plis.Load(),
	}
}
