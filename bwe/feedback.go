package bwe

import (
	"encoding/binary"
	"errors"
)

// Transport-wide congestion control feedback
// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): an RTCP
// transport-layer feedback message (PT 205) of FMT 15. After the common
// header and the two SSRCs it carries
//
//	base sequence number (16) | packet status count (16)
//	reference time (24, in 64 ms) | feedback packet count (8)
//	packet status chunks (16 each), then the receive deltas
//
// A chunk is a run (bit 15 clear: a 2-bit symbol and a 13-bit length) or
// a vector (bit 15 set: fourteen 1-bit symbols, or with bit 14 set seven
// 2-bit ones). A symbol says not received (0), received with a one-octet
// unsigned delta (1) or with a two-octet signed one (2); deltas count
// 250 µs, the first from the reference time and each next from the
// packet received before it.

// Feedback types of RTCP (RFC 4585 §6.1) and the draft.
const (
	typeTransportFeedback = 205
	fmtTransportCC        = 15
)

// maxFeedbackPackets bounds the packets one feedback may report on. A
// receiver writes one every 50 to 250 ms; at bweMax's 20 Mbit/s of full
// packets that is at most 500 of them. A larger count is refused rather
// than let a sender make the parser's scratch grow without bound.
const maxFeedbackPackets = 8192

// The feedback ParseFeedback refuses. Each is a fixed value: a refusal
// allocates nothing.
var (
	ErrNotFeedback   = errors.New("bwe: not transport-wide feedback")
	ErrShortFeedback = errors.New("bwe: feedback shorter than it says")
	ErrBadSymbol     = errors.New("bwe: feedback status symbol 3")
	ErrTooMany       = errors.New("bwe: feedback reports on too many packets")
)

// Feedback is the header of one feedback message.
type Feedback struct {
	SenderSSRC, MediaSSRC uint32
	// Base is the first packet's transport-wide sequence number, Count
	// how many packets follow from it.
	Base, Count uint16
	// Ref is the reference time, in 64 ms, modulo 2^24.
	Ref uint32
	// Seq counts the feedback messages of the sender, modulo 256.
	Seq uint8
}

// Arrival is what a feedback says of one packet.
type Arrival struct {
	Seq      uint16
	Received bool
	// At is when it arrived, in µs after the feedback's reference time
	// (the receiver's clock); 0 when not received.
	At int64
}

// IsFeedback reports whether pkt, one RTCP packet, is transport-wide
// congestion control feedback.
func IsFeedback(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[1] == typeTransportFeedback && pkt[0]&0x1f == fmtTransportCC
}

// ParseFeedback reads one feedback message (a single RTCP packet, its
// length as its header says) and appends what it says of each packet to
// dst, in sequence order. It allocates nothing once dst has room for the
// packets.
func ParseFeedback(pkt []byte, dst []Arrival) (Feedback, []Arrival, error) {
	var fb Feedback
	if !IsFeedback(pkt) || pkt[0]>>6 != 2 {
		return fb, dst, ErrNotFeedback
	}
	if len(pkt) < 20 {
		return fb, dst, ErrShortFeedback
	}
	end := 4 * (int(binary.BigEndian.Uint16(pkt[2:])) + 1)
	if end > len(pkt) || end < 20 {
		return fb, dst, ErrShortFeedback
	}
	if pkt[0]&0x20 != 0 { // padding: its count is the last octet
		pad := int(pkt[end-1])
		if pad == 0 || end-pad < 20 {
			return fb, dst, ErrShortFeedback
		}
		end -= pad
	}
	fb.SenderSSRC = binary.BigEndian.Uint32(pkt[4:])
	fb.MediaSSRC = binary.BigEndian.Uint32(pkt[8:])
	fb.Base = binary.BigEndian.Uint16(pkt[12:])
	fb.Count = binary.BigEndian.Uint16(pkt[14:])
	fb.Ref = binary.BigEndian.Uint32(pkt[16:]) >> 8
	fb.Seq = pkt[19]
	if int(fb.Count) > maxFeedbackPackets {
		return fb, dst, ErrTooMany
	}
	start := len(dst)
	dst = grow(dst, int(fb.Count))
	// The chunks: one symbol per packet, stored in Received (symbol != 0)
	// and At (the symbol itself, until the deltas are read).
	body := pkt[20:end]
	off := 0
	for n := 0; n < int(fb.Count); {
		if off+2 > len(body) {
			return fb, dst[:start], ErrShortFeedback
		}
		chunk := binary.BigEndian.Uint16(body[off:])
		off += 2
		switch {
		case chunk&0x8000 == 0: // run length
			sym := int64(chunk >> 13 & 3)
			if sym == 3 {
				return fb, dst[:start], ErrBadSymbol
			}
			for run := int(chunk & 0x1fff); run > 0 && n < int(fb.Count); run-- {
				dst = append(dst, Arrival{Seq: fb.Base + uint16(n), Received: sym != 0, At: sym})
				n++
			}
		case chunk&0x4000 == 0: // fourteen 1-bit symbols
			for i := 13; i >= 0 && n < int(fb.Count); i-- {
				sym := int64(chunk >> i & 1)
				dst = append(dst, Arrival{Seq: fb.Base + uint16(n), Received: sym != 0, At: sym})
				n++
			}
		default: // seven 2-bit symbols
			for i := 6; i >= 0 && n < int(fb.Count); i-- {
				sym := int64(chunk >> (2 * i) & 3)
				if sym == 3 {
					return fb, dst[:start], ErrBadSymbol
				}
				dst = append(dst, Arrival{Seq: fb.Base + uint16(n), Received: sym != 0, At: sym})
				n++
			}
		}
	}
	// The deltas, one per packet received, in its symbol's size.
	var at int64
	for i := start; i < len(dst); i++ {
		a := &dst[i]
		switch a.At {
		case 0:
			continue
		case 1:
			if off+1 > len(body) {
				return fb, dst[:start], ErrShortFeedback
			}
			at += 250 * int64(body[off])
			off++
		default:
			if off+2 > len(body) {
				return fb, dst[:start], ErrShortFeedback
			}
			at += 250 * int64(int16(binary.BigEndian.Uint16(body[off:])))
			off += 2
		}
		a.At = at
	}
	return fb, dst, nil
}

// grow makes room for n more arrivals in dst.
func grow(dst []Arrival, n int) []Arrival {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	next := make([]Arrival, len(dst), len(dst)+n)
	copy(next, dst)
	return next
}
