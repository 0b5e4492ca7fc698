package bwe

import "sync/atomic"

// historySize is how many sent packets the history remembers: a
// feedback is written every 50 to 250 ms, and 4096 packets are two
// seconds of 20 Mbit/s, half a minute of one 720p layer. It is a power
// of two, so a sequence number's slot is its low bits.
const historySize = 1 << 12

// history is the record of sent packets feedback is matched against: when
// each went and how large it was, by transport-wide sequence number. The
// packet path writes it without a lock (several slots of one subscriber
// send at once, each with its own sequence numbers); feedback reads it
// under the Estimator's mu. It holds each packet's two-octet header
// extension too, so that the extension needs no allocation of its own
// and stays put until the packet is written.
type history struct {
	next  atomic.Uint32
	slots [historySize]sentSlot
	ext   [historySize][2]byte
	// reported is what feedback said of each packet so far, for the
	// feedback path alone (under the Estimator's mu): see report.
	reported [historySize]uint32
}

// sentSlot is one packet: meta packs its sequence number (low 16 bits),
// its size (next 16) and a valid bit; at is when it went (ns). meta is
// cleared while at changes, so a reader that sees the same meta before
// and after reading at has a consistent pair.
type sentSlot struct {
	meta atomic.Uint64
	at   atomic.Int64
}

const slotValid = 1 << 32

// take assigns the next sequence number and returns it with the
// extension payload that carries it.
func (h *history) take() (uint16, []byte) {
	seq := uint16(h.next.Add(1) - 1)
	ext := &h.ext[seq&(historySize-1)]
	ext[0], ext[1] = byte(seq>>8), byte(seq)
	return seq, ext[:]
}

// sent records that packet seq, of size octets, went at (ns).
func (h *history) sent(seq uint16, size int, at int64) {
	s := &h.slots[seq&(historySize-1)]
	s.meta.Store(0)
	s.at.Store(at)
	s.meta.Store(slotValid | uint64(min(size, 0xffff))<<16 | uint64(seq))
}

// lookup returns when packet seq went and its size; ok is false when the
// history does not hold it (never sent, or overwritten since).
func (h *history) lookup(seq uint16) (at int64, size int, ok bool) {
	s := &h.slots[seq&(historySize-1)]
	m := s.meta.Load()
	at = s.at.Load()
	if m&slotValid == 0 || uint16(m) != seq || s.meta.Load() != m {
		return 0, 0, false
	}
	return at, int(m >> 16 & 0xffff), true
}

// What feedback said of a packet before. A receiver reports a packet
// again when one arrives after it was reported missing: it starts its
// next feedback back at the late packet, so that packet, and those after
// it that were already reported, come again.
const (
	reportedNothing = iota
	reportedLost
	reportedReceived
)

// report records that feedback said received (or not) of packet seq and
// returns what it said before.
func (h *history) report(seq uint16, received bool) (before int) {
	r := &h.reported[seq&(historySize-1)]
	if uint16(*r>>2) == seq && *r&3 != 0 {
		before = int(*r & 3)
	}
	now := reportedLost
	if received || before == reportedReceived {
		now = reportedReceived
	}
	*r = uint32(seq)<<2 | uint32(now)
	return before
}
