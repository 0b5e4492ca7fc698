package forwarder

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/bwe"
	"github.com/confd/confd/forwarder/vp8"
	"github.com/confd/confd/rtpparse"
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
	// FramesDropped counts frames of the forwarded layer left out because
	// their temporal layer is above the target.
	FramesDropped uint64
	// PaddingBytes counts the bytes of padding sent to probe bandwidth.
	PaddingBytes uint64
	// Current is the layer being forwarded, Target the one the slot moves
	// to (Spatial -1: none).
	Current, Target Layer
}

// DownTrack is one subscriber video slot: a webrtc.TrackLocal whose source
// Receiver can be changed with SetSource while it keeps one SSRC and one
// continuous sequence of numbers. Of a simulcast source it forwards one
// layer, chosen by its Selector from the slot's rendered size and the
// limit its subscriber's Allocator sets.
type DownTrack struct {
	// The fields every forwarded packet touches come first, together.
	bind    atomic.Pointer[binding]
	want    atomic.Uint32 // sel.Wanted(): layers whose packets are looked at
	mu      sync.Mutex
	src     *Receiver // guarded by mu
	sel     Selector  // guarded by mu
	wantMu  uint32    // guarded by mu: the value last stored in want
	packets uint64    // guarded by mu: counted when translated, taken back if not delivered
	bytes   uint64    // guarded by mu
	munger  Munger    // guarded by mu; its NACK history comes last

	switches, framesDropped uint64   // guarded by mu
	pad                     padState // guarded by mu
	// The control plane's inputs, guarded by mu.
	width, height int   // rendered size of the slot, 0 when unknown
	limit         Layer // the allocator's choice; TopLayer without one
	alloc         *Allocator

	writeErrors, nacks, retransmits, plis atomic.Uint64
	// rrLost and rrAt are the fraction lost (RFC 3550 §6.4.1, in 256ths,
	// plus one: 0 is none yet) of the viewer's latest receiver report on
	// the slot's stream, and when it came (wall clock, ns).
	rrLost atomic.Uint32
	rrAt   atomic.Int64

	id, streamID string
}

// NewDownTrack makes an unbound slot track with the given track and stream IDs.
func NewDownTrack(id, streamID string) *DownTrack {
	return &DownTrack{id: id, streamID: streamID, sel: NewSelector(), limit: TopLayer}
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
// forwards nothing more from the old source and nothing from r until a key
// frame of r, which is requested now.
func (d *DownTrack) SetSource(r *Receiver) {
	d.mu.Lock()
	if d.src == r {
		d.mu.Unlock()
		return
	}
	if d.src != nil {
		d.src.RemoveSink(d)
		d.src.dropDemand(d)
	}
	d.src = r
	d.sel.Restart()
	d.retargetLocked()
	if r != nil {
		r.AddSink(d)
		r.RequestLayerKeyframe(d.sel.Target().Spatial)
	}
	a := d.alloc
	d.mu.Unlock()
	a.Kick()
}

// Source is the current source, nil when the slot is empty.
func (d *DownTrack) Source() *Receiver {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.src
}

// SetRenderSize tells the slot the size, in device pixels, at which its
// viewer shows it (0, 0: unknown). The slot then forwards the smallest
// simulcast layer that covers that size, within its allocator's limit.
func (d *DownTrack) SetRenderSize(width, height int) {
	d.mu.Lock()
	d.width, d.height = max(width, 0), max(height, 0)
	d.retargetLocked()
	a := d.alloc
	d.mu.Unlock()
	a.Kick()
}

// RenderSize is the size set by SetRenderSize.
func (d *DownTrack) RenderSize() (width, height int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.width, d.height
}

// retarget chooses the layer again (the source's layers changed).
func (d *DownTrack) retarget() {
	d.mu.Lock()
	d.retargetLocked()
	a := d.alloc
	d.mu.Unlock()
	a.Kick()
}

// setLimit is the allocator's choice for the slot.
// The target is chosen again even when the limit stays: the layers
// available may have changed (one paused or resumed, one stalled).
func (d *DownTrack) setLimit(l Layer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.limit = l
	d.retargetLocked()
}

// retargetLocked chooses the target layer from the source's layers, the
// rendered size and the limit, and asks for a key frame when the slot must
// change spatial layer.
func (d *DownTrack) retargetLocked() {
	t := Paused
	if d.src != nil {
		t = chooseLayer(d.src.Layers(), d.width, d.height, d.limit)
	}
	d.sel.SetTarget(t)
	d.storeWantLocked()
	if d.src != nil {
		d.src.setDemand(d, d.sel.Wanted())
		if d.sel.Waiting() {
			d.requestTargetKeyframeLocked(d.src)
		}
	}
}

// requestTargetKeyframeLocked asks src for a key frame of the target
// layer: at once when the slot shows nothing or must come down (its
// viewer has no picture, or the link no room for the current layer), and
// as a switch (Receiver.RequestSwitchKeyframe), which waits for the
// publisher's own key frame, when it moves up with a picture meanwhile.
func (d *DownTrack) requestTargetKeyframeLocked(src *Receiver) {
	cur, t := d.sel.Current(), d.sel.Target()
	if cur.Spatial >= 0 && t.Spatial > cur.Spatial {
		src.RequestSwitchKeyframe(t.Spatial)
		return
	}
	src.RequestLayerKeyframe(t.Spatial)
}

// storeWantLocked publishes the selector's wanted layers to the lock-free
// filter in WriteRTP, writing the shared word only when it changes.
func (d *DownTrack) storeWantLocked() {
	if w := d.sel.Wanted(); w != d.wantMu {
		d.wantMu = w
		d.want.Store(w)
	}
}

// WriteRTP implements Sink: translate p under the lock, write outside it.
// Packets of layers the slot does not look at are refused before the lock.
func (d *DownTrack) WriteRTP(p *Packet, out *Scratch) {
	b := d.bind.Load()
	if b == nil || d.want.Load()&(1<<p.Layer) == 0 {
		return
	}
	t, pad, ok := d.translate(p)
	if ok {
		d.write(b, p, out, t)
	}
	if pad.n > 0 {
		d.writePadding(b, out, pad)
	}
}

func (d *DownTrack) translate(p *Packet) (Translation, padding, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.Source != d.src {
		return Translation{}, padding{}, false
	}
	t, ok := d.translateLocked(p)
	if ok {
		d.pad.sentLocked(t.Seq, p.Header.Marker)
	}
	return t, d.padLocked(p.Arrival), ok
}

func (d *DownTrack) translateLocked(p *Packet) (Translation, bool) {
	dec, request := d.sel.Select(p.Layer, &p.VP8, p.Keyframe)
	if request {
		d.requestTargetKeyframeLocked(p.Source)
	}
	switch dec {
	case Drop:
		d.storeWantLocked() // the slot may have paused
		return Translation{}, false
	case DropFrame:
		if p.VP8.Start {
			d.framesDropped++
		}
		d.munger.DropFrame(p)
		return Translation{}, false
	case Switch:
		from, to := d.senderReportsLocked(p)
		d.munger.SwitchAligned(p.Source, p, p.Arrival, from, to)
		d.switches++
		d.storeWantLocked()
		d.src.setDemand(d, d.sel.Wanted())
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

// senderReportsLocked are the sender reports that let the Munger carry
// p's timestamps onto the timeline of the layer forwarded until now: that
// layer's and p's, when both are layers of p's source. A switch from
// another source gets none. Only switches call it: it takes the layers'
// locks.
func (d *DownTrack) senderReportsLocked(p *Packet) (from, to SenderReport) {
	src, layer := d.munger.Current()
	if src == nil || src != p.Source {
		return SenderReport{}, SenderReport{}
	}
	return src.senderReport(layer), src.senderReport(p.Layer)
}

// write fills out.Header and sends. Header extensions are not forwarded: their
// IDs were negotiated with the publisher, not with this subscriber. The
// extension list is emptied, not dropped, so that what the slot's writer
// adds (the transport-wide sequence number) reuses it instead of
// allocating one per packet.
func (d *DownTrack) write(b *binding, p *Packet, out *Scratch, t Translation) {
	h := &out.Header
	h.Version = 2
	h.Padding, h.PaddingSize, h.Extension, h.Marker = false, 0, false, p.Header.Marker
	h.PayloadType = b.pt
	h.SequenceNumber, h.Timestamp, h.SSRC = t.Seq, t.TS, b.ssrc
	h.CSRC, h.Extensions, h.ExtensionProfile = nil, h.Extensions[:0], 0
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
	d.sel.Restart()
	d.storeWantLocked()
}

// undelivered takes back a packet the transport dropped and restarts.
func (d *DownTrack) undelivered(size int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sel.Restart()
	d.storeWantLocked()
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
		d.handleCompound(buf[:n], nack)
	}
}

// handleCompound acts on each packet of a compound RTCP packet but the
// transport-wide feedback, which is the estimator's, taken in as it was
// read (package bwe): it is not unmarshalled again here.
func (d *DownTrack) handleCompound(b []byte, scratch *Scratch) {
	for one, rest, ok := rtpparse.NextRTCP(b); ok; one, rest, ok = rtpparse.NextRTCP(rest) {
		if bwe.IsFeedback(one) {
			continue
		}
		pkts, err := rtcp.Unmarshal(one)
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			d.handleRTCP(pkt, scratch)
		}
	}
}

func (d *DownTrack) handleRTCP(pkt rtcp.Packet, scratch *Scratch) {
	switch p := pkt.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		d.plis.Add(1)
		if src, l := d.current(); src != nil {
			src.RequestLayerKeyframe(l)
		}
	case *rtcp.ReceiverReport:
		b := d.bind.Load()
		for _, r := range p.Reports {
			if b != nil && r.SSRC == b.ssrc {
				d.rrLost.Store(uint32(r.FractionLost) + 1)
				d.rrAt.Store(time.Now().UnixNano())
			}
		}
	case *rtcp.ReceiverEstimatedMaximumBitrate:
		d.mu.Lock()
		a := d.alloc
		d.mu.Unlock()
		if a != nil {
			a.SetREMB(int(p.Bitrate))
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
	in := &out.resend
	n, ok := seg.src.LayerPacket(seg.layer, inSeq, in.raw[:])
	if !ok {
		return
	}
	p := &in.pkt
	*p = Packet{Header: &in.hdr}
	if !parsePacket(p, in.raw[:n], seg.src.cfg.Kind) {
		return
	}
	p.Source, p.Layer = seg.src, seg.layer
	d.write(b, p, out, seg.apply(p))
	d.retransmits.Add(1)
}

// current is the source and the layer the subscriber is being sent (the
// target while nothing is forwarded yet), for its key frame requests.
func (d *DownTrack) current() (*Receiver, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.sel.Current().Spatial
	if l < 0 {
		l = d.sel.Target().Spatial
	}
	return d.src, l
}

// Stats returns the DownTrack's counters.
func (d *DownTrack) Stats() DownTrackStats {
	d.mu.Lock()
	st := DownTrackStats{
		Packets: d.packets, Bytes: d.bytes, Switches: d.switches, FramesDropped: d.framesDropped, PaddingBytes: d.pad.sent,
		Current: d.sel.Current(), Target: d.sel.Target(),
	}
	d.mu.Unlock()
	st.WriteErrors, st.NACKs, st.Retransmits, st.KeyframeRequests = d.writeErrors.Load(), d.nacks.Load(), d.retransmits.Load(), d.plis.Load()
	return st
}
