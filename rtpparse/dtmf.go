package rtpparse

// DTMF turns RFC 4733 telephone-event payloads into keypad digits. A key
// press is one event: every packet of it, including the three redundant
// end packets (§2.5.1.4), carries the same RTP timestamp, so a digit is
// reported once, on the first packet of a new timestamp. Reporting at the
// start rather than the end still works when every end packet is lost.
// It allocates nothing; the zero value is ready.
type DTMF struct {
	last uint32
	seen bool
}

// Decode returns the digit that payload (of a packet with timestamp ts)
// starts, if any.
func (d *DTMF) Decode(ts uint32, payload []byte) (byte, bool) {
	if len(payload) < 4 || (d.seen && ts == d.last) {
		return 0, false
	}
	digit, ok := EventDigit(payload[0])
	if !ok {
		return 0, false
	}
	d.last, d.seen = ts, true
	return digit, true
}

// EventDigit maps RFC 4733 §3.2 event codes 0–15 to keypad characters.
func EventDigit(ev byte) (byte, bool) {
	const keys = "0123456789*#ABCD"
	if int(ev) >= len(keys) {
		return 0, false
	}
	return keys[ev], true
}
