package rtpparse

import "encoding/binary"

// NextRTCP splits the first packet off a compound RTCP packet (RFC 3550
// §6.1) by the length its header gives: pkt is that packet, rest what
// follows it. ok is false when no whole header or packet is left, so a
// truncated compound ends the walk.
func NextRTCP(b []byte) (pkt, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := 4 * (int(binary.BigEndian.Uint16(b[2:])) + 1)
	if n > len(b) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}
