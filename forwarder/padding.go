package forwarder

import "time"

// Probing: when its Allocator wants to find out whether the subscriber's
// link carries more, a slot sends padding-only RTP packets (RFC 3550 §5.1)
// on its stream between frames, at the rate asked. They are counted by the
// transport-wide CC feedback like media, so the estimate sees the extra
// load without a layer switch (and its key frame) being risked on a guess.

// padPayload is the padding of one probe packet: the most RFC 3550 allows
// in one packet (the count is one octet).
const padPayload = 255

// padPacketBytes is a probe packet on the wire, header included.
const padPacketBytes = rtpHeaderBytes + padPayload

// rtpHeaderBytes is an RTP header without CSRCs or extensions.
const rtpHeaderBytes = 12

// maxPadBurst bounds the probe packets sent after one frame: about 2
// Mbit/s of padding at 30 frames a second, in bursts a receiver's jitter
// buffer absorbs.
const maxPadBurst = 30

// maxPadDebt is the longest span of unsent padding carried over: a slot
// whose frames stalled does not make up for it in one burst.
const maxPadDebt = 200 * time.Millisecond

// padState is a slot's padding budget (guarded by the DownTrack's mu).
type padState struct {
	rate   int     // bits per second; 0: no probing
	budget float64 // bytes owed
	at     int64   // when the budget was last topped up
	sent   uint64  // padding bytes sent
}

// padding is what to send after a frame: n packets from seq on, at ts.
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

// padLocked decides the padding to send after the frame just forwarded
// (at now) and reserves its sequence numbers.
func (d *DownTrack) padLocked(now int64) padding {
	ps := &d.pad
	if ps.rate == 0 {
		return padding{}
	}
	if ps.at != 0 {
		span := min(now-ps.at, int64(maxPadDebt))
		ps.budget += float64(ps.rate) / 8 * float64(max(span, 0)) / float64(time.Second)
	}
	ps.at = now
	n := min(int(ps.budget/padPacketBytes), maxPadBurst)
	if n == 0 {
		return padding{}
	}
	seq, ts, ok := d.munger.Pad(n)
	if !ok {
		return padding{}
	}
	ps.budget -= float64(n * padPacketBytes)
	ps.sent += uint64(n * padPacketBytes)
	return padding{n: n, seq: seq, ts: ts}
}

// writePadding sends the padding packets reserved after a frame, from the
// caller's scratch header, with no payload: pion appends PaddingSize bytes
// whose last one is their count.
func (d *DownTrack) writePadding(b *binding, out *Scratch, pad padding) {
	h := &out.Header
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
