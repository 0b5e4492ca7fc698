package dialin

import (
	"testing"
)

func TestParseRTP(t *testing.T) {
	var h rtpHeader
	pkt := make([]byte, 12+160)
	putRTP(pkt, &rtpHeader{pt: 8, marker: true, seq: 65535, ts: 1 << 31, ssrc: 42})
	payload, ok := parseRTP(pkt, &h)
	if !ok || len(payload) != 160 || h != (rtpHeader{pt: 8, marker: true, seq: 65535, ts: 1 << 31, ssrc: 42}) {
		t.Fatalf("parse = %+v %d %v", h, len(payload), ok)
	}
	// CSRCs, a header extension and padding are skipped (RFC 3550 §5.1, §5.3.1).
	ext := append([]byte{0xb1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xc0, 0xc0, 0xc0, 0xc0, 0xbe, 0xde, 0, 1, 1, 2, 3, 4}, 0x55, 0x55, 0, 0, 3)
	payload, ok = parseRTP(ext, &h)
	if !ok || string(payload) != "\x55\x55" {
		t.Errorf("payload %x, %v", payload, ok)
	}
	for name, b := range map[string][]byte{
		"short":         pkt[:11],
		"version 1":     append([]byte{0x40}, pkt[1:]...),
		"no payload":    pkt[:12],
		"padding only":  {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4},
		"cut extension": {0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe},
	} {
		if _, ok := parseRTP(b, &h); ok {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestDTMFDeduplicated: the packets of one key press (RFC 4733 §2.5:
// updates and three end packets, one timestamp) give one digit; the same
// key again, with a new timestamp, gives another.
func TestDTMFDeduplicated(t *testing.T) {
	var d dtmfDecoder
	var got []byte
	press := func(ts uint32, ev byte) {
		for k := range 6 {
			e := byte(10)
			if k >= 3 {
				e |= 0x80
			}
			if digit, ok := d.decode(ts, []byte{ev, e, 0, byte(160 * (k + 1))}); ok {
				got = append(got, digit)
			}
		}
	}
	press(1000, 5)
	press(1000, 5) // a late retransmission of the same event
	press(2000, 5)
	press(3000, 11)
	press(4000, 10)
	if string(got) != "55#*" {
		t.Fatalf("digits %q, want 55#*", got)
	}
	if _, ok := d.decode(5000, []byte{16, 0, 0, 0}); ok {
		t.Error("event 16 (flash) taken as a digit")
	}
}

func TestInfoDigits(t *testing.T) {
	for _, tt := range []struct{ ct, body, want string }{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", "5"},
		{"Application/DTMF-Relay; charset=x", "signal= #\nDuration=100", "#"},
		{"application/dtmf", "*", "*"},
		{"application/dtmf", "a", "A"},
		{"application/sdp", "Signal=5", ""},
		{"application/dtmf-relay", "Signal=<script>", ""},
		{"application/dtmf-relay", "Signal=11", "#"},
		{"application/dtmf-relay", "Signal=123", ""},
	} {
		if got := infoDigits(tt.ct, []byte(tt.body)); got != tt.want {
			t.Errorf("infoDigits(%q, %q) = %q, want %q", tt.ct, tt.body, got, tt.want)
		}
	}
}
