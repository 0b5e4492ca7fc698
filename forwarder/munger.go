package forwarder

// segment is the mapping from one source's numbering to the slot's output
// numbering. A new segment starts at every source switch and at every
// in-order packet the slot drops (padding), so that a NACK for any output
// sequence number can be mapped back to the packet it came from. Sequence
// numbers are kept extended (never wrapping) so that a segment may last
// for any number of packets.
type segment struct {
	src      *Receiver
	layer    int    // the source's simulcast layer
	firstIn  int64  // extended input sequence number of the segment's first packet
	firstOut int64  // extended output sequence number it maps to
	lastOut  int64  // the last output sequence number it mapped (set when it ends)
	seq      uint16 // output = input + seq (mod 2^16)
	ts       uint32
	pid      uint16 // modulo 2^15
	tl0      uint8
}

// Translation is what the Munger decided for one packet.
type Translation struct {
	Seq       uint16
	TS        uint32
	PictureID uint16
	TL0PICIDX uint8
	// Rewrite is true when the VP8 descriptor must change (non-zero offsets).
	Rewrite bool
}

const (
	historySegments = 16
	pictureIDMask   = 0x7fff
	videoClockRate  = 90000
)

// Munger keeps one output stream continuous while its source changes
// (RFC 3550 §5.1 sequence and timestamp rules; RFC 7741 §4.2 picture ID and
// TL0PICIDX). It is pure state: the caller serialises access and supplies
// the time.
type Munger struct {
	started   bool
	highestIn int64 // extended input sequence number of the newest packet of the segment
	last      struct {
		seq int64 // extended output sequence number
		ts  uint32
		pid uint16
		tl0 uint8
		at  int64
	}
	cur     segment
	histLen int
	history [historySegments]segment // only switches, drops and NACKs touch it
}

// extend places a 16-bit sequence number next to the extended ref (RFC 3550
// Appendix A.1): the nearest value with the same low 16 bits.
func extend(seq uint16, ref int64) int64 {
	return ref + int64(int16(seq-uint16(ref)))
}

// SwitchAligned starts a new segment at p, the first packet of a key frame
// from src. The output continues at last+1 for sequence number, picture ID
// and TL0PICIDX. The timestamp continues in one of two ways:
//
//   - Between two layers of one Receiver (one publisher, one capture
//     clock), when from (the latest sender report of the current
//     segment's layer, see Current) and to (that of p's layer) are both
//     usable: p's timestamp is carried onto the old layer's timeline
//     through the two reports (RFC 3550 §6.4.1: each pairs an RTP
//     timestamp with the publisher's NTP time) and keeps the old
//     segment's offset, so the output is exactly what one continuous
//     stream of the publisher's frames would carry. This holds only if
//     the result is strictly after the last output timestamp (a key frame
//     of the very instant already forwarded would repeat it) and at most
//     senderReportMaxLead beyond what the elapsed-time rule gives.
//   - Otherwise (another publisher, a report missing or stale, or the
//     check above failing) the elapsed-time rule: the timestamp advances
//     by the wall time elapsed since the last forwarded packet (at least
//     one tick), which keeps playout pacing right without relying on the
//     two sources' clocks being related.
func (m *Munger) SwitchAligned(src *Receiver, p *Packet, now int64, from, to SenderReport) {
	in := p.Header
	first := int64(in.SequenceNumber) // the new source's numbering starts here
	if !m.started {
		m.started = true
		m.cur = segment{src: src, layer: p.Layer, firstIn: first, firstOut: first}
		m.setLast(first-1, in.Timestamp, p.VP8.PictureID-1, p.VP8.TL0PICIDX-1, now)
		m.highestIn = first - 1
		return
	}
	elapsed := uint32(max((now-m.last.at)*videoClockRate/1e9, 1))
	ts := m.last.ts + elapsed - in.Timestamp
	if aligned, ok := m.alignedTS(src, in.Timestamp, elapsed, now, from, to); ok {
		ts = aligned
	}
	m.pushHistory()
	m.cur = segment{
		src:      src,
		layer:    p.Layer,
		firstIn:  first,
		firstOut: m.last.seq + 1,
		seq:      uint16(m.last.seq+1) - in.SequenceNumber,
		ts:       ts,
		pid:      (m.last.pid + 1 - p.VP8.PictureID) & pictureIDMask,
		tl0:      m.last.tl0 + 1 - p.VP8.TL0PICIDX,
	}
	m.highestIn = first - 1
}

// alignedTS is the timestamp offset of a new segment of src whose first
// packet carries timestamp ts, placed through the sender reports from and
// to (see SwitchAligned); false when they may not be used. elapsed is the
// elapsed-time rule's advance in ticks.
func (m *Munger) alignedTS(src *Receiver, ts, elapsed uint32, now int64, from, to SenderReport) (uint32, bool) {
	if src != m.cur.src || !from.usable(now) || !to.usable(now) {
		return 0, false
	}
	off, ok := layerTSOffset(from, to)
	if !ok {
		return 0, false
	}
	off += m.cur.ts
	lead := int64(int32(ts + off - m.last.ts))
	if lead <= 0 || lead > int64(elapsed)+senderReportMaxLeadTicks {
		return 0, false
	}
	return off, true
}

// Translate maps a packet of the current segment. It returns false for a
// packet older than the segment's start: it belongs to before the switch.
func (m *Munger) Translate(p *Packet, now int64) (Translation, bool) {
	in := extend(p.Header.SequenceNumber, m.highestIn)
	if in < m.cur.firstIn {
		return Translation{}, false
	}
	t := m.cur.apply(p)
	if in > m.highestIn {
		m.highestIn = in
		m.advanceLast(in+m.cur.firstOut-m.cur.firstIn, t, p, now)
	}
	return t, true
}

// Drop records that the in-order packet seq of the current segment will not
// be forwarded, so the next one follows the last forwarded packet directly.
func (m *Munger) Drop(seq uint16) {
	m.drop(seq)
}

// DropFrame is Drop for a packet of a frame the slot leaves out as a whole
// (a VP8 temporal layer it does not forward): when p starts the frame, the
// picture IDs after it move down by one, so the receiver sees consecutive
// picture IDs and no missing frame (RFC 7741 §4.2: a gap in picture IDs
// means lost pictures).
func (m *Munger) DropFrame(p *Packet) {
	if !m.drop(p.Header.SequenceNumber) {
		return
	}
	if p.VP8.HasPictureID && p.VP8.Start && p.VP8.PartitionID == 0 {
		m.cur.pid = (m.cur.pid - 1) & pictureIDMask
	}
}

// drop is Drop; it reports whether seq was in order (and so dropped).
func (m *Munger) drop(seq uint16) bool {
	in := extend(seq, m.highestIn)
	if in <= m.highestIn {
		return false
	}
	// A segment that has mapped no packet yet (it began at the previous
	// drop) is changed in place: consecutive drops, a whole left-out
	// frame, then cost one history entry, not one per packet.
	if m.highestIn >= m.cur.firstIn {
		m.pushHistory()
	}
	m.cur.firstOut = in + m.cur.firstOut - m.cur.firstIn // what seq would have become
	m.cur.firstIn = in + 1
	m.cur.seq--
	m.highestIn = in
	return true
}

// Pad reserves n output sequence numbers, right after the last forwarded
// packet, for padding-only packets (RFC 3550 §5.1) that probe the
// subscriber's bandwidth. It returns the first of them and the timestamp
// they carry (the last one sent: padding is no new picture). The media
// after them continues at the following number; a NACK for a padding
// number maps to nothing.
func (m *Munger) Pad(n int) (seq uint16, ts uint32, ok bool) {
	if !m.started || n <= 0 {
		return 0, 0, false
	}
	if m.highestIn >= m.cur.firstIn {
		m.pushHistory()
	}
	first := m.last.seq + 1
	m.last.seq += int64(n)
	m.cur.firstIn = m.highestIn + 1
	m.cur.firstOut = m.last.seq + 1
	m.cur.seq += uint16(n)
	return uint16(first), m.last.ts, true
}

// Reverse finds the segment and input sequence number behind an output
// sequence number, for serving a NACK.
func (m *Munger) Reverse(out uint16) (segment, uint16, bool) {
	if !m.started {
		return segment{}, 0, false
	}
	back := uint16(m.last.seq) - out
	if back >= 0x8000 {
		return segment{}, 0, false // not sent yet: NACKs name packets already sent
	}
	ext := m.last.seq - int64(back)
	if ext >= m.cur.firstOut {
		return m.cur, out - m.cur.seq, true
	}
	for i := range min(m.histLen, historySegments) {
		s := m.history[(m.histLen-1-i)%historySegments]
		if ext > s.lastOut {
			return segment{}, 0, false // padding: no media behind it
		}
		if ext >= s.firstOut {
			return s, out - s.seq, true
		}
	}
	return segment{}, 0, false
}

// Source is the Receiver of the current segment (nil before the first).
func (m *Munger) Source() *Receiver { return m.cur.src }

// Current is the Receiver and the simulcast layer of the current segment
// (nil, 0 before the first): whose sender report SwitchAligned takes as
// from.
func (m *Munger) Current() (*Receiver, int) { return m.cur.src, m.cur.layer }

func (s *segment) apply(p *Packet) Translation {
	t := Translation{
		Seq:       p.Header.SequenceNumber + s.seq,
		TS:        p.Header.Timestamp + s.ts,
		PictureID: (p.VP8.PictureID + s.pid) & pictureIDMask,
		TL0PICIDX: p.VP8.TL0PICIDX + s.tl0,
	}
	t.Rewrite = (p.VP8.HasPictureID && s.pid != 0) || (p.VP8.HasTL0PICIDX && s.tl0 != 0)
	return t
}

func (m *Munger) advanceLast(out int64, t Translation, p *Packet, now int64) {
	m.last.seq = out
	m.last.at = now
	if int32(t.TS-m.last.ts) > 0 {
		m.last.ts = t.TS
	}
	if p.VP8.HasPictureID && int16((t.PictureID-m.last.pid)<<1) > 0 {
		m.last.pid = t.PictureID
	}
	if p.VP8.HasTL0PICIDX && int8(t.TL0PICIDX-m.last.tl0) > 0 {
		m.last.tl0 = t.TL0PICIDX
	}
}

func (m *Munger) setLast(seq int64, ts uint32, pid uint16, tl0 uint8, at int64) {
	m.last.seq, m.last.ts, m.last.pid, m.last.tl0, m.last.at = seq, ts, pid&pictureIDMask, tl0, at
}

func (m *Munger) pushHistory() {
	m.cur.lastOut = m.last.seq
	m.history[m.histLen%historySegments] = m.cur
	m.histLen++
	if m.histLen >= 2*historySegments {
		m.histLen -= historySegments
	}
}
