package dialin

import (
	"testing"

	"github.com/pion/rtp"

	"github.com/confd/confd/rtpparse"
)

// TestPutRTP: the header confd writes is what rtpparse reads back.
func TestPutRTP(t *testing.T) {
	pkt := make([]byte, 12+160)
	putRTP(pkt, &rtpHeader{pt: 8, marker: true, seq: 65535, ts: 1 << 31, ssrc: 42})
	var h rtp.Header
	payload, err := rtpparse.Parse(pkt, &h)
	if err != nil || len(payload) != 160 || h.PayloadType != 8 || !h.Marker || h.SequenceNumber != 65535 || h.Timestamp != 1<<31 || h.SSRC != 42 {
		t.Fatalf("parse = %+v %d %v", h, len(payload), err)
	}
}

// TestDTMFDeduplicated: the packets of one key press (RFC 4733 §2.5:
// updates and three end packets, one timestamp) give one digit; the same
// key again, with a new timestamp, gives another.
func TestDTMFDeduplicated(t *testing.T) {
	var d rtpparse.DTMF
	var got []byte
	press := func(ts uint32, ev byte) {
		for k := range 6 {
			e := byte(10)
			if k >= 3 {
				e |= 0x80
			}
			if digit, ok := d.Decode(ts, []byte{ev, e, 0, byte(160 * (k + 1))}); ok {
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
	if _, ok := d.Decode(5000, []byte{16, 0, 0, 0}); ok {
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
