package forwarder

import "time"

// Probing: when its Allocator wants to find out whether the subscriber's
// link carries more, a slot sends padding-only RTP packets (RFC 3550 §5.1)
// on its stream, at the rate asked. They are counted by the transport-wide
// CC feedback like media, so the estimate sees the extra load without a
// layer switch (and its key frame) being risked on a guess.
//
// The padding owed accrues with time, not with frames, and goes out after
// any packet of the source the slot handles (forwarded, or left out with a
// frame of a temporal layer it drops), provided the output stands between
// two frames then. A slot forwarding the base temporal layer of a 30 fps
// layer (7.5 frames a second) thus has a chance at each of the 30 frames
// a second and pads in small bursts; padding after its own frames alone,
// maxPadBurst packets each, it could not pass 480 kbit/s. Padding never
// goes inside a frame: receivers assemble a frame from packets with
// consecutive sequence numbers, so padding numbered inside one would leave
// it incomplete. A padding packet carries the timestamp of the frame
// before it.

// padPayload is the padding of one probe packet: the most RFC 3550 allows
// in one packet (the count is one octet).
const padPayload = 255

// padPacketBytes is a probe packet on the wire, header included.
const padPacketBytes = rtpHeaderBytes + padPayload

// rtpHeaderBytes is an RTP header without CSRCs or extensions.
const rtpHeaderBytes = 12

// maxPadBurst bounds the probe packets sent within padBurstSpan: 8 kB,
// about the burst of a key frame of a small layer. A larger burst would
// queue at the bottleneck and read as rising delay. Padding is spread
// over every packet the slot handles between frames, so where packets are
// dense the bursts stay well under it; it binds where they are sparse (a
// publisher sending a few small frames a second), which then cannot probe
// far above maxPadBurst packets per frame.
const maxPadBurst = 30

// padBurstSpan is the span packets count as one burst in: the packets of
// one frame arrive within it, and so does the padding sent after each of
// them. Delay-based estimators group what is sent within 5 ms likewise
// (the pre-filtering of draft-ietf-rmcat-gcc-02).
const padBurstSpan = 5 * time.Millisecond

// maxPadDebt is the longest span of padding owed carried over: a slot
// whose source stalled does not make up for it when it resumes.
const maxPadDebt = 200 * time.Millisecond

// padState is a slot's padding budget and where its output stands
// (guarded by the DownTrack's mu).
type padState struct {
	rate   int     // bits per second; 0: no probing
	budget float64 // bytes owed
	at     int64   // when the budget was last topped up
	sent   uint64  // padding bytes sent
	// last is the newest output sequence number sent (media or padding;
	// none before started), open true when it is a media packet that
	// does not end its frame.
	last          uint16
	started, open bool
	// burstAt is when the current burst began, burstN the padding
	// packets sent in it.
	burstAt int64
	burstN  int
}

// padding is what to send: n packets from seq on, at ts.
type padding struct {
	n   int
	seq uint16
	ts  uint32
}

// SetPadding makes the slot send padding at bps bits per second (0 stops).
func (d *DownTrack) SetPadding(bps int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if bps > 0 && d.pad.rate == 0 {
		d.pad.at, d.pad.budget = 0, 0
	}
	d.pad.rate = max(bps, 0)
}

// sentLocked records that a media packet went out as seq; marker: it ends
// its frame. A packet older than the newest sent (the publisher's
// retransmission, late) does not move where the output stands.
func (ps *padState) sentLocked(seq uint16, marker bool) {
	if int16(seq-ps.last) > 0 || !ps.started {
		ps.last, ps.open, ps.started = seq, !marker, true
	}
}

// padLocked tops up the padding owed to now and, when the output stands
// between two frames, decides the padding to send (after the packet just
// handled, if any) and reserves its sequence numbers.
func (d *DownTrack) padLocked(now int64) padding {
	ps := &d.pad
	if ps.rate == 0 {
		return padding{}
	}
	if ps.at != 0 {
		owed := float64(ps.rate) / 8 * float64(max(now-ps.at, 0)) / float64(time.Second)
		ps.budget = min(ps.budget+owed, float64(ps.rate)/8*maxPadDebt.Seconds())
	}
	ps.at = now
	if ps.open || d.sel.Current().Spatial < 0 {
		return padding{}
	}
	if now-ps.burstAt >= int64(padBurstSpan) || now < ps.burstAt {
		ps.burstAt, ps.burstN = now, 0
	}
	n := min(int(ps.budget/padPacketBytes), maxPadBurst-ps.burstN)
	if n <= 0 {
		return padding{}
	}
	seq, ts, ok := d.munger.Pad(n)
	if !ok {
		return padding{}
	}
	ps.burstN += n
	ps.budget -= float64(n * padPacketBytes)
	ps.sent += uint64(n * padPacketBytes)
	ps.last = seq + uint16(n-1)
	return padding{n: n, seq: seq, ts: ts}
}

// writePadding sends the padding packets reserved, from the caller's
// scratch header, with no payload: pion appends PaddingSize bytes
// whose last one is their count. Every field is set: the scratch belongs
// to the reader goroutine, and when the padding follows a packet this
// slot left out, what the header holds is another slot's packet.
func (d *DownTrack) writePadding(b *binding, out *Scratch, pad padding) {
	h := &out.Header
	h.Version, h.PayloadType, h.SSRC = 2, b.pt, b.ssrc
	h.Extension, h.CSRC, h.Extensions, h.ExtensionProfile = false, nil, h.Extensions[:0], 0 // emptied, kept for the writer
	h.Padding, h.PaddingSize, h.Marker = true, padPayload, false
	h.Timestamp = pad.ts
	for i := range pad.n {
		h.SequenceNumber = pad.seq + uint16(i)
		if _, err := b.w.WriteRTP(h, nil); err != nil {
			d.writeErrors.Add(1)
		}
	}
	h.Padding, h.PaddingSize = false, 0
}
